using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;

namespace SiteX.Server.Forwarding;

/// <summary>This gateway's name in <c>x-sitex-via</c> (loop detection): <c>party#instance</c>.</summary>
internal sealed class GatewayIdentity
{
    public GatewayIdentity(IOptions<SiteXOptions> options)
    {
        var configured = options.Value.InstanceId;
        InstanceId = string.IsNullOrWhiteSpace(configured) ? Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 4)) : configured;
    }

    public string InstanceId { get; }

    public string ViaEntry(string selfParty) => $"{selfParty}#{InstanceId}";

    /// <summary>True when <paramref name="via"/> (comma-separated entries) names this gateway instance.</summary>
    public bool IsIn(string via)
    {
        foreach (var range in via.AsSpan().Split(','))
        {
            var entry = via.AsSpan()[range].Trim();
            var hash = entry.IndexOf('#');
            if (hash >= 0 && entry[(hash + 1)..].SequenceEqual(InstanceId))
            {
                return true;
            }
        }

        return false;
    }
}
