namespace SiteX.Benchmarks.Infrastructure;

/// <summary>
/// Samples the RSS of some processes every <see cref="Interval"/> on a dedicated thread until disposed, keeping the
/// highest value seen per process. VmHWM (read at the end) catches peaks shorter than the interval.
/// </summary>
internal sealed class RssSampler : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(10);

    private readonly int[] _pids;
    private readonly long[] _peaks;
    private readonly Thread _thread;
    private volatile bool _stop;

    public RssSampler(params int[] pids)
    {
        _pids = pids;
        _peaks = new long[pids.Length];
        _thread = new Thread(Run) { IsBackground = true, Name = "rss-sampler" };
        _thread.Start();
    }

    public int Samples { get; private set; }

    /// <summary>The highest sampled RSS of <paramref name="pid"/>, in bytes.</summary>
    public long Peak(int pid) => Volatile.Read(ref _peaks[Array.IndexOf(_pids, pid)]);

    private void Run()
    {
        while (!_stop)
        {
            for (var i = 0; i < _pids.Length; i++)
            {
                try
                {
                    var rss = ProcStats.Rss(_pids[i]);
                    if (rss > _peaks[i])
                    {
                        Volatile.Write(ref _peaks[i], rss);
                    }
                }
                catch (IOException)
                {
                    // The process is gone; its last peak stays.
                }
            }

            Samples++;
            Thread.Sleep(Interval);
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }
}
