using Microsoft.Extensions.Logging;
using SiteX.Server.Diagnostics;

namespace SiteX.Server.Security;

/// <summary>
/// Watches the TLS files a route table names (certificates, keys, CA files, key stores) and calls back, coalesced,
/// when one of them may have changed: a write, a replace through a rename, or a Kubernetes-style symlink swap
/// (<c>..data</c>) in its directory. The callback compares file contents, so a spurious event changes nothing.
/// </summary>
internal sealed class TlsFileWatcher(Action changed, TimeSpan quietTime, ILogger logger) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, FileSystemWatcher> _watchers = new(StringComparer.Ordinal);
    private HashSet<string> _names = new(StringComparer.Ordinal);
    private int _scheduled;
    private bool _disposed;

    /// <summary>The files watched now.</summary>
    public IReadOnlyCollection<string> Files { get; private set; } = [];

    /// <summary>Watches exactly <paramref name="files"/> (full paths) from now on.</summary>
    public void Watch(IEnumerable<string> files)
    {
        var set = files.Distinct(StringComparer.Ordinal).ToList();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            Files = set;
            _names = new HashSet<string>(set.Select(Path.GetFileName).OfType<string>(), StringComparer.Ordinal);
            var directories = set.Select(Path.GetDirectoryName).OfType<string>().ToHashSet(StringComparer.Ordinal);
            foreach (var stale in _watchers.Keys.Where(d => !directories.Contains(d)).ToList())
            {
                _watchers[stale].Dispose();
                _watchers.Remove(stale);
            }

            foreach (var directory in directories.Where(d => !_watchers.ContainsKey(d)))
            {
                try
                {
                    var watcher = new FileSystemWatcher(directory)
                    {
                        NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                        IncludeSubdirectories = false,
                    };
                    watcher.Changed += OnEvent;
                    watcher.Created += OnEvent;
                    watcher.Deleted += OnEvent;
                    watcher.Renamed += OnEvent;
                    watcher.Error += (_, e) =>
                    {
                        OutboundTlsLog.WatchFailed(logger, e.GetException().Message);
                        Schedule();
                    };
                    watcher.EnableRaisingEvents = true;
                    _watchers[directory] = watcher;
                }
                catch (Exception ex) when (ex is ArgumentException or IOException or UnauthorizedAccessException)
                {
                    OutboundTlsLog.WatchFailed(logger, $"{directory}: {ex.Message}");
                }
            }
        }
    }

    private void OnEvent(object sender, FileSystemEventArgs e)
    {
        var name = e.Name ?? "";
        var oldName = (e as RenamedEventArgs)?.OldName ?? "";
        bool relevant;
        lock (_gate)
        {
            relevant = _names.Contains(name) || _names.Contains(oldName) || name.StartsWith("..", StringComparison.Ordinal);
        }

        if (relevant)
        {
            Schedule();
        }
    }

    /// <summary>Coalesces a burst of events (write key, write certificate, rename) into one callback.</summary>
    private void Schedule()
    {
        if (Interlocked.Exchange(ref _scheduled, 1) == 1)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            await Task.Delay(quietTime).ConfigureAwait(false);
            Volatile.Write(ref _scheduled, 0);
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }
            }

            try
            {
                changed();
            }
            catch (Exception ex)
            {
                OutboundTlsLog.WatchFailed(logger, ex.Message);
            }
        });
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (var watcher in _watchers.Values)
            {
                watcher.Dispose();
            }

            _watchers.Clear();
        }
    }
}
