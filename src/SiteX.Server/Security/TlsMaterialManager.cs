using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;

namespace SiteX.Server.Security;

/// <summary>
/// Owns the current <see cref="TlsMaterial"/>: loads it at start (a bad file stops the start), then watches the files
/// and swaps in a new snapshot when their content really changed. Handshakes read <see cref="Current"/> once, so a
/// reload needs no restart and leaves established connections alone.
/// </summary>
/// <remarks>
/// A reload: wait until the file events have been quiet for <see cref="TlsOptions.ReloadDelay"/>; read every file and
/// hash the bytes; the same hash as the serving material (a touch, a rewrite with the same content, an unrelated file
/// in the directory) does nothing. Otherwise parse and check exactly those bytes; a failure is retried with back-off
/// (a file may be half written, or a key may be renamed into place before its certificate), and only when it persists
/// is the edit rejected: logged, counted, and the last good material keeps serving.
/// </remarks>
internal sealed class TlsMaterialManager : IDisposable
{
    /// <summary>Delays between attempts to load changed files that do not load yet.</summary>
    internal static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(800), TimeSpan.FromMilliseconds(1600)];

    private const int MaxDebounceRestarts = 50;

    private readonly TlsOptions _options;
    private readonly ILogger<TlsMaterialManager> _logger;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private CertificateFileWatcher? _watcher;
    private volatile TlsMaterial? _current;
    private byte[] _lastRejectedHash = [];
    private int _eventGeneration;
    private int _loopRunning;

    public TlsMaterialManager(IOptions<SiteXOptions> options, ILogger<TlsMaterialManager> logger, GatewayMetrics metrics, TimeProvider time)
    {
        _options = options.Value.Tls;
        _logger = logger;
        _metrics = metrics;
        _time = time;
    }

    /// <summary>True when a certificate is configured (the TLS ports open).</summary>
    public bool Enabled => _options.Enabled;

    /// <summary>The material serving new handshakes. Only valid when <see cref="Enabled"/>, after <see cref="InitialLoad"/>.</summary>
    public TlsMaterial Current => _current ?? throw new InvalidOperationException("the TLS material is not loaded");

    /// <summary>Raised after new material has been swapped in.</summary>
    public event Action<TlsMaterial>? Reloaded;

    /// <summary>Raised after changed files were rejected; the current material keeps serving.</summary>
    public event Action<string>? ReloadRejected;

    /// <summary>Loads the configured files. Throws <see cref="TlsConfigurationException"/>: bad TLS files must not
    /// start a gateway.</summary>
    public void InitialLoad()
    {
        if (!Enabled)
        {
            TlsLog.PortsClosed(_logger);
            return;
        }

        TlsMaterialLoader.CheckSettings(_options);
        var files = TlsFileSet.Read(_options);
        var material = TlsMaterialLoader.Load(_options, files, _time.GetUtcNow());
        Swap(material, "loaded");
        _watcher = new CertificateFileWatcher(TlsFileSet.Paths(_options).Select(p => p.Path), OnFileEvent,
            (directory, ex) => TlsLog.WatcherError(_logger, directory, ex.Message));
    }

    /// <summary>One reload attempt now (tests and the reload loop).</summary>
    internal ReloadOutcome TryReload(out string? problem) => TryReload(out problem, out _);

    private ReloadOutcome TryReload(out string? problem, out byte[] failedHash)
    {
        problem = null;
        failedHash = [];
        TlsFileSet files;
        try
        {
            files = TlsFileSet.Read(_options);
        }
        catch (TlsConfigurationException ex)
        {
            problem = ex.Message;
            return ReloadOutcome.Failed;
        }

        var current = Current;
        if (files.Hash.AsSpan().SequenceEqual(current.FileHash) || files.Hash.AsSpan().SequenceEqual(Volatile.Read(ref _lastRejectedHash)))
        {
            TlsLog.ReloadUnchanged(_logger, string.Join(", ", files.Files.Values.Select(f => f.Path)));
            _metrics.TlsReloaded("unchanged");
            return ReloadOutcome.Unchanged;
        }

        try
        {
            Swap(TlsMaterialLoader.Load(_options, files, _time.GetUtcNow()), "reloaded");
            return ReloadOutcome.Applied;
        }
        catch (TlsConfigurationException ex)
        {
            problem = ex.Message;
            failedHash = files.Hash;
            return ReloadOutcome.Failed;
        }
    }

    private void Swap(TlsMaterial material, string action)
    {
        _current = material;
        var certificate = material.Certificate;
        var notAfter = certificate.NotAfter.ToUniversalTime();
        TlsLog.Loaded(_logger, action, certificate.Subject, certificate.Thumbprint, notAfter, material.Source, material.TrustedAuthorities.Count, material.CaFile);
        _metrics.TlsCertificateLoaded(new DateTimeOffset(notAfter, TimeSpan.Zero));
        if (action != "loaded")
        {
            _metrics.TlsReloaded("applied");
        }

        var left = notAfter - _time.GetUtcNow().UtcDateTime;
        if (left < TimeSpan.FromDays(30))
        {
            TlsLog.ExpiresSoon(_logger, certificate.Thumbprint, certificate.Subject, notAfter, (int)Math.Max(0, left.TotalDays));
        }

        if (action != "loaded")
        {
            Reloaded?.Invoke(material);
        }
    }

    private void OnFileEvent()
    {
        Interlocked.Increment(ref _eventGeneration);
        if (Interlocked.CompareExchange(ref _loopRunning, 1, 0) == 0)
        {
            _ = Task.Run(ReloadLoopAsync);
        }
    }

    /// <summary>Runs while file events keep coming; at most one instance at a time.</summary>
    private async Task ReloadLoopAsync()
    {
        try
        {
            while (true)
            {
                // Debounce: wait until the events have been quiet for ReloadDelay (a write is a burst of events).
                var generation = Volatile.Read(ref _eventGeneration);
                for (var restarts = 0; restarts < MaxDebounceRestarts; restarts++)
                {
                    await Task.Delay(_options.ReloadDelay, _time, _stopping.Token).ConfigureAwait(false);
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
            TlsLog.ReloadRejected(_logger, $"unexpected failure: {ex.Message}", _current?.Certificate.Thumbprint ?? "");
        }
    }

    private async Task ReloadWithRetriesAsync(int generation)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (TryReload(out var problem, out var failedHash) != ReloadOutcome.Failed)
            {
                return;
            }

            if (attempt >= RetryDelays.Length)
            {
                Volatile.Write(ref _lastRejectedHash, failedHash);
                _metrics.TlsReloaded("rejected");
                TlsLog.ReloadRejected(_logger, problem!, Current.Certificate.Thumbprint);
                ReloadRejected?.Invoke(problem!);
                return;
            }

            TlsLog.ReloadRetry(_logger, attempt + 1, problem!, RetryDelays[attempt]);
            await Task.Delay(RetryDelays[attempt], _time, _stopping.Token).ConfigureAwait(false);
            if (generation != Volatile.Read(ref _eventGeneration))
            {
                return; // the files changed again: the loop starts over with the new content
            }
        }
    }

    public void Dispose()
    {
        // Not disposed: a reload loop may still be reading its token; cancelling ends it.
        _stopping.Cancel();
        _watcher?.Dispose();
    }
}

/// <summary>What one reload attempt did.</summary>
internal enum ReloadOutcome
{
    Unchanged,
    Applied,
    Failed,
}
