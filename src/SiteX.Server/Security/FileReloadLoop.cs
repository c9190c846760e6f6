namespace SiteX.Server.Security;

/// <summary>What one reload attempt did.</summary>
internal enum ReloadOutcome
{
    Unchanged,
    Applied,
    Failed,
}

/// <summary>What a reload attempt reports: its outcome and, when it failed, why.</summary>
internal readonly record struct ReloadAttempt(ReloadOutcome Outcome, string? Problem = null);

/// <summary>
/// Reloads a set of files when they change: watches their directories (<see cref="CertificateFileWatcher"/>), waits
/// until the events have been quiet for a while (a write is a burst of events), then runs the owner's reload attempt,
/// which compares contents and applies or refuses them. A failed attempt is retried with back-off (a file may be half
/// written, or several files renamed into place one by one), and only when it persists is the edit reported rejected.
/// At most one reload runs at a time; events during one start another after it.
/// </summary>
internal sealed class FileReloadLoop : IDisposable
{
    /// <summary>Delays between attempts to load changed files that do not load yet.</summary>
    internal static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(800), TimeSpan.FromMilliseconds(1600)];

    private const int MaxDebounceRestarts = 50;

    private readonly TimeSpan _quietTime;
    private readonly TimeProvider _time;
    private readonly Func<ReloadAttempt> _tryReload;
    private readonly Action<int, string, TimeSpan> _retrying;
    private readonly Action<string> _rejected;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CertificateFileWatcher _watcher;
    private int _eventGeneration;
    private int _loopRunning;

    /// <param name="paths">The files (their directories are watched).</param>
    /// <param name="quietTime">How long events must stop before a reload.</param>
    /// <param name="time">The clock of the delays.</param>
    /// <param name="tryReload">One attempt: read, compare, apply or fail.</param>
    /// <param name="retrying">Called before a retry: attempt number, problem, delay.</param>
    /// <param name="rejected">Called when the last retry failed too, with the problem.</param>
    /// <param name="watcherError">Called when a directory watcher fails (a reload attempt follows).</param>
    public FileReloadLoop(IEnumerable<string> paths, TimeSpan quietTime, TimeProvider time, Func<ReloadAttempt> tryReload,
        Action<int, string, TimeSpan> retrying, Action<string> rejected, Action<string, Exception> watcherError)
    {
        _quietTime = quietTime;
        _time = time;
        _tryReload = tryReload;
        _retrying = retrying;
        _rejected = rejected;
        _watcher = new CertificateFileWatcher(paths, OnFileEvent, watcherError);
    }

    private void OnFileEvent()
    {
        Interlocked.Increment(ref _eventGeneration);
        if (Interlocked.CompareExchange(ref _loopRunning, 1, 0) == 0)
        {
            _ = Task.Run(RunAsync);
        }
    }

    /// <summary>Runs while file events keep coming; at most one instance at a time.</summary>
    private async Task RunAsync()
    {
        try
        {
            while (true)
            {
                var generation = Volatile.Read(ref _eventGeneration);
                for (var restarts = 0; restarts < MaxDebounceRestarts; restarts++)
                {
                    await Task.Delay(_quietTime, _time, _stopping.Token).ConfigureAwait(false);
                    var now = Volatile.Read(ref _eventGeneration);
                    if (now == generation)
                    {
                        break;
                    }

                    generation = now;
                }

                await ReloadWithRetriesAsync(generation).ConfigureAwait(false);

                // Stop unless events arrived meanwhile (and no other loop took over).
                Volatile.Write(ref _loopRunning, 0);
                if (generation == Volatile.Read(ref _eventGeneration) || Interlocked.CompareExchange(ref _loopRunning, 1, 0) != 0)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Volatile.Write(ref _loopRunning, 0);
            _rejected($"unexpected failure: {ex.Message}");
        }
    }

    private async Task ReloadWithRetriesAsync(int generation)
    {
        for (var attempt = 0; ; attempt++)
        {
            var result = _tryReload();
            if (result.Outcome != ReloadOutcome.Failed)
            {
                return;
            }

            var problem = result.Problem ?? "the files could not be loaded";
            if (attempt >= RetryDelays.Length)
            {
                _rejected(problem);
                return;
            }

            _retrying(attempt + 1, problem, RetryDelays[attempt]);
            await Task.Delay(RetryDelays[attempt], _time, _stopping.Token).ConfigureAwait(false);
            if (generation != Volatile.Read(ref _eventGeneration))
            {
                return; // the files changed again: the loop starts over with the new content
            }
        }
    }

    public void Dispose()
    {
        // Not disposed: a reload may still be reading its token; cancelling ends it.
        _stopping.Cancel();
        _watcher.Dispose();
    }
}
