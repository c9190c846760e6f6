using System.Diagnostics;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>
/// Waits until servers stop using CPU, so work a measured run leaves behind (an access log writer draining its queue,
/// a background GC, a buffered log flush) is charged to that run and not to the next one.
/// </summary>
internal static class Quiescence
{
    private static readonly TimeSpan s_quietFor = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan s_threshold = TimeSpan.FromMilliseconds(10);

    /// <summary>Returns once <paramref name="cpuTime"/> (the servers' total CPU time) grew by at most 10 ms in 200 ms, or after 5 s.</summary>
    public static async Task WaitAsync(Func<TimeSpan> cpuTime, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 5;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var before = cpuTime();
            await Task.Delay(s_quietFor, ct);
            if (cpuTime() - before <= s_threshold)
            {
                return;
            }
        }
    }

    /// <summary><see cref="WaitAsync(Func{TimeSpan}, CancellationToken)"/> over these processes.</summary>
    public static Task WaitAsync(IReadOnlyCollection<int> pids, CancellationToken ct) =>
        WaitAsync(() => pids.Aggregate(TimeSpan.Zero, (sum, pid) => sum + ProcStats.CpuTime(pid)), ct);
}
