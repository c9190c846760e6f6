using System.Globalization;

namespace SiteX.Server.Forwarding;

/// <summary>Reads and writes the gRPC <c>grpc-timeout</c> header (value and unit: H, M, S, m, u, n).</summary>
internal static class GrpcDeadline
{
    public static bool TryParse(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (string.IsNullOrEmpty(value) || value.Length < 2 || value.Length > 9)
        {
            return false;
        }

        if (!long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            return false;
        }

        double ticks = value[^1] switch
        {
            'H' => amount * (double)TimeSpan.TicksPerHour,
            'M' => amount * (double)TimeSpan.TicksPerMinute,
            'S' => amount * (double)TimeSpan.TicksPerSecond,
            'm' => amount * (double)TimeSpan.TicksPerMillisecond,
            'u' => amount * (double)TimeSpan.TicksPerMicrosecond,
            'n' => amount / 100.0,
            _ => -1,
        };
        if (ticks < 0 || ticks > TimeSpan.MaxValue.Ticks)
        {
            return false;
        }

        timeout = TimeSpan.FromTicks((long)ticks);
        return true;
    }

    /// <summary>Formats a remaining timeout with at most 8 digits, as the gRPC spec requires.</summary>
    public static string Format(TimeSpan timeout)
    {
        var ms = Math.Max(1L, (long)Math.Ceiling(timeout.TotalMilliseconds));
        if (ms < 100_000_000)
        {
            return ms.ToString(CultureInfo.InvariantCulture) + "m";
        }

        var seconds = (long)Math.Ceiling(timeout.TotalSeconds);
        return seconds < 100_000_000
            ? seconds.ToString(CultureInfo.InvariantCulture) + "S"
            : Math.Min(99_999_999L, (long)Math.Ceiling(timeout.TotalHours)).ToString(CultureInfo.InvariantCulture) + "H";
    }
}
