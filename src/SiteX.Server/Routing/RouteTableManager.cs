using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Security;

namespace SiteX.Server.Routing;

/// <summary>
/// Owns the current <see cref="RouteTable"/>: loads it, validates every edit, swaps accepted ones atomically and
/// keeps the last good table when an edit is bad. A route table file is watched with file-change notification
/// (no polling), including editors that save through a temporary file and a rename.
/// </summary>
public sealed class RouteTableManager : IDisposable
{
    private readonly SiteXOptions _options;
    private readonly ILogger<RouteTableManager> _logger;
    private readonly GatewayMetrics _metrics;
    private readonly Lock _applyLock = new();
    private readonly string? _path;
    private FileSystemWatcher? _watcher;
    private TlsFileWatcher? _tlsWatcher;
    private volatile RouteTable _current;
    private byte[] _lastHash = [];
    private int _reloadScheduled;
    private long _version;

    public RouteTableManager(IOptions<SiteXOptions> options, ILogger<RouteTableManager> logger, GatewayMetrics metrics)
    {
        _options = options.Value;
        _logger = logger;
        _metrics = metrics;
        _path = string.IsNullOrWhiteSpace(_options.RouteTable) ? null : Path.GetFullPath(_options.RouteTable);
        _current = RouteTable.Create(RouteTableConfig.Empty, _options.SelfParties, 0, "embedded defaults");
    }

    /// <summary>The table serving traffic now. Read it once per request.</summary>
    public RouteTable Current => _current;

    /// <summary>The errors of the last rejected edit, or empty when the last edit was accepted.</summary>
    public IReadOnlyList<RouteTableError> LastErrors { get; private set; } = [];

    /// <summary>Raised after a new table has been swapped in.</summary>
    public event Action<RouteTable>? Changed;

    /// <summary>Raised after an edit was rejected; the current table keeps serving.</summary>
    public event Action<IReadOnlyList<RouteTableError>>? EditRejected;

    /// <summary>The watched file, or null when the table is the embedded (empty) default.</summary>
    public string? FilePath => _path;

    /// <summary>Loads the configured file. Throws <see cref="RouteTableException"/> on a bad table: a bad first
    /// table must not start a gateway.</summary>
    public void InitialLoad()
    {
        if (_path is null)
        {
            RouteTableLog.UsingEmbeddedDefaults(_logger, string.Join(",", _options.SelfParties));
            return;
        }

        string text;
        try
        {
            text = File.ReadAllText(_path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new RouteTableException(_path, [new RouteTableError("", $"cannot read the file: {ex.Message}")]);
        }

        var config = ParseAndLoad(text, out var errors);
        if (config is null)
        {
            throw new RouteTableException(_path, errors);
        }

        Apply(config, _path, Hash(text));
        StartWatching();
    }

    /// <summary>Validates and applies a table given as JSON text (admin API, tests).</summary>
    public bool TryApply(string json, string source, out IReadOnlyList<RouteTableError> errors)
    {
        var config = ParseAndLoad(json, out errors);
        if (config is null)
        {
            Reject(source, errors);
            return false;
        }

        Apply(config, source, Hash(json));
        return true;
    }

    /// <summary>Re-reads the watched file now. Returns false (keeping the current table) when it is bad.</summary>
    public bool ReloadFromFile()
    {
        if (_path is null)
        {
            return false;
        }

        string text;
        try
        {
            text = ReadShared(_path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Mid-rename or deleted: the next notification retries; the current table keeps serving.
            RouteTableLog.ReloadReadFailed(_logger, _path, ex.Message);
            return false;
        }

        var hash = Hash(text);
        if (hash.AsSpan().SequenceEqual(_lastHash))
        {
            return true; // a spurious event: the content did not change
        }

        var config = ParseAndLoad(text, out var errors);
        if (config is null)
        {
            Reject(_path, errors);
            _lastHash = hash;
            return false;
        }

        Apply(config, _path, hash);
        return true;
    }

    /// <summary>Where relative TLS file paths in a table are resolved: the route table file's directory, else the
    /// working directory.</summary>
    public string BaseDirectory => _path is null ? Directory.GetCurrentDirectory() : Path.GetDirectoryName(_path)!;

    /// <summary>Parses <paramref name="text"/> and reads the TLS files it names; null with every error otherwise.</summary>
    private RouteTableConfig? ParseAndLoad(string text, out IReadOnlyList<RouteTableError> errors)
    {
        var config = RouteTableParser.Parse(text, out errors);
        return config is null ? null : OutboundTlsLoader.Load(config, BaseDirectory, out errors);
    }

    /// <summary>
    /// Re-reads the TLS files of the current table (after the watcher saw one change). When their content changed,
    /// the same table is applied again as a new version with the new material, so new connections use it; when a
    /// file is now bad, the change is rejected like a bad edit and the current table keeps serving.
    /// </summary>
    public bool ReloadTlsFiles()
    {
        lock (_applyLock)
        {
            var current = _current;
            var config = OutboundTlsLoader.Load(current.Config, BaseDirectory, out var errors);
            if (config is null)
            {
                Reject($"{current.Source} (TLS files)", errors);
                return false;
            }

            if (TlsOf(config).SequenceEqual(TlsOf(current.Config)))
            {
                return true; // a spurious event: no file's content changed
            }

            OutboundTlsLog.FilesChanged(_logger, string.Join(", ", _tlsWatcher?.Files ?? []));
            Apply(config, current.Source, _lastHash);
            return true;
        }
    }

    private static IEnumerable<OutboundTls?> TlsOf(RouteTableConfig config) => config.Rules.SelectMany(r => r.Endpoints).Select(e => e.Tls);

    private void WatchTlsFiles(RouteTableConfig config)
    {
        var files = TlsOf(config).SelectMany(t => t?.Files ?? []).Distinct(StringComparer.Ordinal).ToList();
        if (files.Count == 0 && _tlsWatcher is null)
        {
            return;
        }

        _tlsWatcher ??= new TlsFileWatcher(() => ReloadTlsFiles(), _options.RouteTableReloadDelay, _logger);
        _tlsWatcher.Watch(files);
    }

    /// <summary>Rules (old and new table together) from which a reload ends with a compacting collection.</summary>
    internal const int CompactAfterRules = 1_000;

    private void Apply(RouteTableConfig config, string source, byte[] hash)
    {
        RouteTable table;
        int previousRules;
        lock (_applyLock)
        {
            previousRules = _current.RuleCount;
            table = RouteTable.Create(config, _options.SelfParties, Interlocked.Increment(ref _version), source);
            _current = table;
            _lastHash = hash;
            LastErrors = [];
            _metrics.RouteTableReloaded(success: true, table.Version);
            if (config.SelfParties is null && config.Format == RouteTableFormat.Osx && _path is not null)
            {
                RouteTableLog.NoSelfPartyInTable(_logger, source, string.Join(",", _options.SelfParties));
            }

            RouteTableLog.Applied(_logger, table.Version, source, table.PartyCount, table.RuleCount, string.Join(",", table.SelfPartyList));
            WatchTlsFiles(config);
            if (config.Permissions.DefaultPath.Length > 0)
            {
                RouteTableLog.PermissionsApplied(_logger, table.Version, config.Permissions.Rules.Count,
                    config.Permissions.Default == PermissionAction.Allow ? "allowed" : "denied", config.Permissions.DefaultPath);
            }

            if (config.ExtraJson.Count > 0)
            {
                RouteTableLog.IgnoredKeys(_logger, source, string.Join(", ", config.ExtraJson.Keys.Select(k => RouteTableParser.Truncate(k))));
            }
        }

        Changed?.Invoke(_current);

        // A big table's parse garbage and the table it replaced sit in gen 2, and the GC would keep their memory
        // committed long after (a 10 000-party table: a plateau of +60 to +80 MiB of RSS over repeated reloads).
        // Reloads are rare, so one compacting collection that returns it to the OS is cheap (target O3).
        if (table.RuleCount + previousRules >= CompactAfterRules)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
    }

    private void Reject(string source, IReadOnlyList<RouteTableError> errors)
    {
        LastErrors = errors;
        _metrics.RouteTableReloaded(success: false, _current.Version);
        RouteTableLog.Rejected(_logger, source, errors.Count, _current.Version, string.Join("; ", errors));
        EditRejected?.Invoke(errors);
    }

    private void StartWatching()
    {
        var directory = Path.GetDirectoryName(_path)!;
        var watcher = new FileSystemWatcher(directory)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            IncludeSubdirectories = false,
        };
        watcher.Changed += OnFileEvent;
        watcher.Created += OnFileEvent;
        watcher.Renamed += OnFileEvent;
        watcher.Error += (_, e) =>
        {
            RouteTableLog.WatcherError(_logger, _path!, e.GetException().Message);
            ScheduleReload();
        };
        watcher.EnableRaisingEvents = true;
        _watcher = watcher;
    }

    private void OnFileEvent(object sender, FileSystemEventArgs e)
    {
        if (string.Equals(e.FullPath, _path, StringComparison.Ordinal))
        {
            ScheduleReload();
        }
    }

    /// <summary>Coalesces a burst of events (truncate + write + close) into one reload shortly after the last.</summary>
    private void ScheduleReload()
    {
        if (Interlocked.Exchange(ref _reloadScheduled, 1) == 1)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            await Task.Delay(_options.RouteTableReloadDelay).ConfigureAwait(false);
            Volatile.Write(ref _reloadScheduled, 0);
            try
            {
                ReloadFromFile();
            }
            catch (Exception ex)
            {
                RouteTableLog.ReloadReadFailed(_logger, _path!, ex.Message);
            }
        });
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static byte[] Hash(string text) => SHA256.HashData(Encoding.UTF8.GetBytes(text));

    public void Dispose()
    {
        _watcher?.Dispose();
        _tlsWatcher?.Dispose();
    }
}
