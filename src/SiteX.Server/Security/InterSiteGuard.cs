using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Forwarding;
using SiteX.Server.Http;
using SiteX.Server.Routing;

namespace SiteX.Server.Security;

/// <summary>
/// The one place where a call on an inter-site port is admitted: it proves the peer's party
/// (<see cref="IPeerAuthenticator"/>: the client certificate, the signed request token), refuses local operations, and makes every source
/// the call claims (<c>x-ptp-source-node-id</c>, <c>x-ptp-from-node-id</c>, <c>x-ptp-source-inst-id</c>, FATE's
/// <c>src-party-id</c>; and, checked by the planes when they read it, a Packet's <c>src.partyId</c> or
/// <c>RollSiteHeader.srcPartyId</c>) equal the proven party, unless that party is a trusted relay. A call that claims
/// no source gets the proven party as its source.
/// </summary>
internal sealed class InterSiteGuard
{
    private static readonly string[] s_sourceHeaders = [PtpHeaders.SourceNodeId, PtpHeaders.FromNodeId, PtpHeaders.SourceInstId, PtpHeaders.FateSrcPartyId];

    private readonly IPeerAuthenticator[] _authenticators;
    private readonly FrozenSet<string> _relays;
    private readonly bool _allowUnproven;
    private readonly RouteTableManager _routes;
    private readonly ILogger<InterSiteGuard> _logger;

    public InterSiteGuard(IEnumerable<IPeerAuthenticator> authenticators, IOptions<SiteXOptions> options, RouteTableManager routes, ILogger<InterSiteGuard> logger)
    {
        _authenticators = [.. authenticators];
        _relays = options.Value.Tls.TrustedRelays.ToFrozenSet(StringComparer.Ordinal);
        _allowUnproven = options.Value.Tls.AllowUnprovenPeers;
        _routes = routes;
        _logger = logger;
    }

    /// <summary>Proves and checks a call on an inter-site port. False after the caller was answered with an error.</summary>
    public async ValueTask<bool> AdmitAsync(HttpContext context, GatewayCall call)
    {
        call.Ingress = IngressKind.InterSite;
        call.TraceId = CallHeaders.Get(context.Request.Headers, PtpHeaders.TraceId);
        if (!await ProveAsync(context, call))
        {
            return false;
        }

        var path = context.Request.Path.Value ?? "";
        var headers = context.Request.Headers;
        if (IsLocalOnly(path))
        {
            call.Uri = path;
            call.SourceParty = call.PeerParty;
            TlsLog.LocalOnlyRefused(_logger, RouteTableParser.Truncate(path), call.PeerParty ?? "unproven", call.TraceId);
            await ErrorResponder.WriteAsync(context, call, GatewayError.LocalOnly,
                $"SiteX gateway {_routes.Current.GatewayName}: {RouteTableParser.Truncate(path)} is a local operation, served only to this site's own services on its intra-site ports, never to a peer gateway",
                ErrorResponder.StyleFor(context, path));
            return false;
        }

        foreach (var name in s_sourceHeaders)
        {
            foreach (var claimed in headers[name])
            {
                if (!string.IsNullOrEmpty(claimed) && !IsAllowedSource(call, claimed))
                {
                    call.Uri = path;
                    await RejectSourceAsync(context, call, claimed, $"header {name}", ErrorResponder.StyleFor(context, path));
                    return false;
                }
            }
        }

        // A call that names no source is from the proven party: the access log, src_site rules and the next hop see it.
        call.SourceParty = call.PeerParty;
        return true;
    }

    /// <summary>
    /// Runs every authenticator and sets the call's proven party. False, after answering
    /// <see cref="GatewayError.Unauthenticated"/>, when a credential is refused or (unless
    /// <see cref="TlsOptions.AllowUnprovenPeers"/>) none proves the party; <see cref="GatewayError.IdentityMismatch"/>
    /// when two credentials prove different parties.
    /// </summary>
    private async ValueTask<bool> ProveAsync(HttpContext context, GatewayCall call)
    {
        var path = context.Request.Path.Value ?? "";
        PeerIdentity? proven = null;
        foreach (var authenticator in _authenticators)
        {
            var result = await authenticator.AuthenticateAsync(context, context.RequestAborted);
            if (result.Refusal is { } refusal)
            {
                return await RefuseAsync(context, call, path, GatewayError.Unauthenticated, $"SiteX gateway {_routes.Current.GatewayName}: {refusal}");
            }

            if (result.Identity is not { } identity)
            {
                continue;
            }

            if (proven is not null && !string.Equals(proven.Party, identity.Party, StringComparison.Ordinal))
            {
                return await RefuseAsync(context, call, path, GatewayError.IdentityMismatch,
                    $"SiteX gateway {_routes.Current.GatewayName}: the caller's {Describe(proven.Proof)} proves party {proven.Party} but its {Describe(identity.Proof)} proves party {identity.Party}; a call carries one identity");
            }

            proven ??= identity;
        }

        if (proven is null)
        {
            return _allowUnproven || await RefuseAsync(context, call, path, GatewayError.Unauthenticated,
                $"SiteX gateway {_routes.Current.GatewayName}: the call proves no party: it has no client certificate and no SiteX request token (x-ptp-token); a peer gateway must present one");
        }

        call.PeerParty = proven.Party;
        call.PeerProof = proven.Proof;
        return true;
    }

    private async Task<bool> RefuseAsync(HttpContext context, GatewayCall call, string path, GatewayError error, string message)
    {
        call.Uri = path;
        TlsLog.Unauthenticated(_logger, RouteTableParser.Truncate(path), message, call.TraceId);
        await ErrorResponder.WriteAsync(context, call, error, message, ErrorResponder.StyleFor(context, path));
        return false;
    }

    private static string Describe(PeerProof proof) => proof == PeerProof.Token ? "request token" : "client certificate";

    /// <summary>True when <paramref name="claimed"/> may be the source of a call from this call's peer: it is the peer
    /// itself, the peer is a trusted relay, or nothing proved the peer (<see cref="TlsOptions.AllowUnprovenPeers"/>).</summary>
    public bool IsAllowedSource(GatewayCall call, string claimed) =>
        call.PeerParty is null || string.Equals(claimed, call.PeerParty, StringComparison.Ordinal) || _relays.Contains(call.PeerParty);

    /// <summary>Answers a call whose claimed source is not its proven party with <see cref="GatewayError.IdentityMismatch"/>.</summary>
    public Task RejectSourceAsync(HttpContext context, GatewayCall call, string claimed, string field, ErrorStyle style) =>
        ErrorResponder.WriteAsync(context, call, GatewayError.IdentityMismatch, ReportMismatch(context, call, claimed, field), style);

    /// <summary>Logs a claimed source that is not the proven party and returns the caller's message for
    /// <see cref="GatewayError.IdentityMismatch"/>: both parties, nothing internal.</summary>
    public string ReportMismatch(HttpContext context, GatewayCall call, string claimed, string field)
    {
        TlsLog.IdentityMismatch(_logger, RouteTableParser.Truncate(context.Request.Path.Value ?? ""), call.PeerParty!, RouteTableParser.Truncate(claimed), field, call.TraceId);
        return $"SiteX gateway {_routes.Current.GatewayName}: the caller is party {call.PeerParty} (proven by its {Describe(call.PeerProof)}) but {field} names party {RouteTableParser.Truncate(claimed)}; a peer gateway may only send calls as itself";
    }

    /// <summary>Operations only a site's own services may use: queue pop, peek and release on either binding, and OSX's
    /// router administration paths.</summary>
    public static bool IsLocalOnly(string path) =>
        path is PtpMethods.Pop or PtpMethods.Peek or PtpMethods.Release
            or HttpQueueEndpoints.PopPath or HttpQueueEndpoints.PeekPath or HttpQueueEndpoints.ReleasePath
        || path.StartsWith("/v1/inner/", StringComparison.Ordinal);
}
