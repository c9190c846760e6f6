using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using SiteX.Protocol;
using SiteX.Server.Configuration;

namespace SiteX.Server.Forwarding;

/// <summary>This gateway's name in <c>x-sitex-via</c> (loop detection): <c>party#instance</c>.</summary>
internal sealed class GatewayIdentity
{
    private readonly int _maxHops;
    private ViaEntryCache? _viaEntry;

    public GatewayIdentity(IOptions<SiteXOptions> options)
    {
        _maxHops = options.Value.MaxHops;
        var configured = options.Value.InstanceId;
        InstanceId = string.IsNullOrWhiteSpace(configured) ? Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 4)) : configured;
    }

    public string InstanceId { get; }

    /// <summary>This gateway's <c>x-sitex-via</c> entry as <paramref name="selfParty"/>. Kept for the last party asked
    /// (the route table's first self party, which changes only with the table), so that a forwarded call does not
    /// build it again.</summary>
    public string ViaEntry(string selfParty)
    {
        var cached = _viaEntry;
        if (cached is not null && string.Equals(cached.Party, selfParty, StringComparison.Ordinal))
        {
            return cached.Entry;
        }

        var entry = $"{selfParty}#{InstanceId}";
        _viaEntry = new ViaEntryCache(selfParty, entry);
        return entry;
    }

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

    /// <summary>Reads an arriving call's loop-detection headers (<c>x-sitex-hops</c>, <c>x-sitex-via</c>) once, for every
    /// relay: the verdict, and the values the next hop gets.</summary>
    public LoopCheck CheckLoop(IHeaderDictionary headers, string selfParty)
    {
        var via = headers[SiteXHeaders.Via].ToString();
        var hops = 0;
        var verdict = headers.TryGetValue(SiteXHeaders.Hops, out var hopsText) && !int.TryParse(hopsText, out hops) ? LoopVerdict.BadHops
            : via.Length > 0 && IsIn(via) ? LoopVerdict.CameBack
            : hops >= _maxHops ? LoopVerdict.TooManyHops
            : LoopVerdict.None;
        return new LoopCheck(verdict, hops, via, via.Length == 0 ? ViaEntry(selfParty) : $"{via},{ViaEntry(selfParty)}");
    }

    /// <summary>A party and its via entry, replaced whole so that readers on other threads never see a mixed pair.</summary>
    private sealed record ViaEntryCache(string Party, string Entry);
}

/// <summary>What a call's loop-detection headers say.</summary>
internal enum LoopVerdict
{
    None = 0,
    /// <summary><c>x-sitex-hops</c> is not a number.</summary>
    BadHops,
    /// <summary><c>x-sitex-via</c> names this gateway instance already.</summary>
    CameBack,
    /// <summary>The call passed <see cref="SiteXOptions.MaxHops"/> gateways.</summary>
    TooManyHops,
}

/// <param name="Verdict">Whether the call may go on.</param>
/// <param name="Hops">Gateways passed so far.</param>
/// <param name="Via">The via list as it arrived.</param>
/// <param name="NextVia">The via list the next hop gets (this gateway appended).</param>
internal readonly record struct LoopCheck(LoopVerdict Verdict, int Hops, string Via, string NextVia);
