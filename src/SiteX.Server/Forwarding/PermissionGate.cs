using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Protocol;
using SiteX.Server.Diagnostics;
using SiteX.Server.Routing;

namespace SiteX.Server.Forwarding;

/// <summary>
/// Applies the route table's <c>permission</c> rules to a call before it is routed or touches a queue. Every path
/// that forwards, relays or stores asks here first: pass-through (both ports), Packet calls, a relayed
/// <c>invoke</c>, a self-party <c>invoke</c> (its push or its unary Packet), and a queue push.
/// </summary>
/// <remarks>
/// <para>Who is calling (the "from" party), in order:</para>
/// <list type="number">
/// <item>the party proven by the connection (<see cref="GatewayCall.PeerParty"/>: a client certificate or a signed
/// token on an inter-site port); when that party is a trusted relay (<c>Tls:TrustedRelays</c>, an exchange), the source
/// party the call names, which the relay vouches for;</item>
/// <item>nobody known, when the call came over an inter-site port and nothing proved it (only <c>*</c> rules match);</item>
/// <item>on the intra-site ports, what the call claims: <c>x-ptp-source-node-id</c> (<c>x-ptp-from-node-id</c>,
/// <c>x-ptp-source-inst-id</c>, <c>src-party-id</c>) or a Packet's <c>src.partyId</c>; a claim that is not a valid
/// party id is refused as <see cref="GatewayError.BadRequest"/>;</item>
/// <item>else the party of the first gateway in <c>x-sitex-via</c> (a call relayed by SiteX gateways comes from the
/// site where it entered);</item>
/// <item>else this gateway's first self party: the site's own services.</item>
/// </list>
/// <para>The "from" service is <c>x-ptp-source-component-name</c>, FATE-Flow's <c>src-role</c> or a Packet's
/// <c>src.role</c>; when there is none the caller's service is unknown and only <c>*</c> matches it. The "to" side
/// is the call's target party and service; queue pushes have the service <see cref="QueueService"/>.</para>
/// </remarks>
internal sealed class PermissionGate(ILogger<PermissionGate> logger, IOptions<SiteXOptions> options)
{
    private readonly FrozenSet<string> _trustedRelays = options.Value.Tls.TrustedRelays.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>The service a queue push is checked as: (target party, <c>queue</c>).</summary>
    public const string QueueService = "queue";

    /// <summary>The service an <c>invoke</c> is checked as when the gateway does not open it (a relay): a push is
    /// <see cref="QueueService"/>, anything else <c>default</c>, the service OSX routes every invoke by.</summary>
    public static string InvokeService(string? uriPath) => InvokeRelay.IsPushUri(uriPath) ? QueueService : RouteTableParser.DefaultKey;

    /// <summary>True when the call may reach (<paramref name="toParty"/>, <paramref name="toService"/>). Otherwise
    /// <paramref name="error"/> is <see cref="GatewayError.PermissionDenied"/> (or <see cref="GatewayError.BadRequest"/>
    /// for a claimed source that is not a party id) and <paramref name="message"/> is safe to send to the caller.</summary>
    public bool TryAuthorize(HttpContext context, GatewayCall call, RouteTable table, string toParty, string toService, out GatewayError error, out string message)
    {
        var self = table.GatewayName;
        string? fromParty;
        string fromKind;
        if (call.PeerParty is { } proven)
        {
            if (_trustedRelays.Contains(proven) && call.SourceParty is { } vouched && vouched != proven && RouteTableParser.IsValidId(vouched))
            {
                // A trusted relay (an exchange) vouches for the party the call came from (Tls:TrustedRelays).
                fromParty = vouched;
                fromKind = "named by a trusted relay";
            }
            else
            {
                fromParty = proven;
                fromKind = "proven";
            }
        }
        else if (call.Ingress == IngressKind.InterSite)
        {
            fromParty = null;
            fromKind = "unproven";
        }
        else if (call.SourceParty is { } claimed)
        {
            if (!RouteTableParser.IsValidId(claimed))
            {
                error = GatewayError.BadRequest;
                message = $"SiteX gateway {self}: the source party \"{RouteTableParser.Truncate(claimed)}\" is not a valid party id (1-128 letters, digits, '.', '_' or '-')";
                return false;
            }

            fromParty = claimed;
            fromKind = "claimed";
        }
        else if (table.Permissions.AllowsEverything)
        {
            // Nothing to judge: skip working out who an unnamed caller is (the hot path of a table without rules).
            fromParty = null;
            fromKind = "";
        }
        else if (FirstViaParty(context.Request.Headers[SiteXHeaders.Via].ToString()) is { } origin)
        {
            fromParty = origin;
            fromKind = "first gateway";
        }
        else
        {
            fromParty = self;
            fromKind = "this site";
        }

        var permissions = table.Permissions;
        if (permissions.AllowsEverything)
        {
            error = GatewayError.None;
            message = "";
            return true;
        }

        var fromService = call.SourceService is { } named && RouteTableParser.IsValidId(named) ? named : null;
        var decision = permissions.Evaluate(fromParty, fromService, toParty, toService);
        if (decision.Allowed)
        {
            error = GatewayError.None;
            message = "";
            return true;
        }

        var who = fromParty is null ? "an unproven peer" : $"party {fromParty}";
        var what = fromService is null ? "" : $" service {fromService}";
        error = GatewayError.PermissionDenied;
        message = $"SiteX gateway {self}: permission denied: {who}{what} may not reach party {toParty} service {toService} (rule {decision.RulePath})";
        PermissionLog.Denied(logger, decision.RulePath, fromParty ?? "?", fromKind, fromService ?? "*", toParty, toService, context.Request.Path.Value ?? "", call.TraceId);
        return false;
    }

    /// <summary>The party of the first <c>party#instance</c> entry of an <c>x-sitex-via</c> list, when it is a valid id.</summary>
    internal static string? FirstViaParty(string via)
    {
        if (via.Length == 0)
        {
            return null;
        }

        var first = via.AsSpan();
        var comma = first.IndexOf(',');
        if (comma >= 0)
        {
            first = first[..comma];
        }

        var hash = first.IndexOf('#');
        var party = (hash >= 0 ? first[..hash] : first).Trim().ToString();
        return RouteTableParser.IsValidId(party) ? party : null;
    }
}
