namespace SiteX.Server.Security;

/// <summary>
/// Watches the directories of the TLS files and reports that something in them changed. It watches whole directories,
/// not file names, so that every way of replacing a file is seen: an in-place write, a temporary file renamed over it,
/// and a symbolic-link swap such as Kubernetes' <c>..data</c> for mounted secrets. Deciding whether anything really
/// changed is left to the caller, which compares file contents (like Kestrel's <c>CertificatePathWatcher</c>, this
/// never bounces anything on a spurious event).
/// </summary>
internal sealed class CertificateFileWatcher : IDisposable
{
    private readonly List<FileSystemWatcher> _watchers = [];

    public CertificateFileWatcher(IEnumerable<string> paths, Action changed, Action<string, Exception> error)
    {
        foreach (var directory in paths.Select(p => Path.GetDirectoryName(p)!).Distinct(StringComparer.Ordinal))
        {
            var watcher = new FileSystemWatcher(directory)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                IncludeSubdirectories = false,
            };
            watcher.Changed += (_, _) => changed();
            watcher.Created += (_, _) => changed();
            watcher.Deleted += (_, _) => changed();
            watcher.Renamed += (_, _) => changed();
            watcher.Error += (_, e) =>
            {
                error(directory, e.GetException());
                changed();
            };
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }
    }

    public void Dispose()
    {
        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }
    }
}
