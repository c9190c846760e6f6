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
/// A reload (<see cref="FileReloadLoop"/>): wait until the file events have been quiet for <see cref="TlsOptions.ReloadDelay"/>; read every file and
/// hash the bytes; the same hash as the serving material (a touch, a rewrite with the same content, an unrelated file
/// in the directory) does nothing. Otherwise parse and check exactly those bytes; a failure is retried with back-off
/// (a file may be half written, or a key may be renamed into place before its certificate), and only when it persists
/// is the edit rejected: logged, counted, and the last good material keeps serving.
/// </remarks>
internal sealed class TlsMaterialManager : IDisposable
{
    private readonly TlsOptions _options;
    private readonly ILogger<TlsMaterialManager> _logger;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private FileReloadLoop? _reloads;
    private volatile TlsMaterial? _current;
    private byte[] _lastRejectedHash = [];
    private byte[] _lastFailedHash = [];

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
        _reloads = new FileReloadLoop(TlsFileSet.Paths(_options).Select(p => p.Path), _options.ReloadDelay, _time,
            () => new ReloadAttempt(TryReload(out var problem), problem),
            (attempt, problem, delay) => TlsLog.ReloadRetry(_logger, attempt, problem, delay),
            Reject,
            (directory, ex) => TlsLog.WatcherError(_logger, directory, ex.Message));
    }

    /// <summary>One reload attempt now (tests and the reload loop). A failure's file hash is remembered: once the
    /// failure persists, that content is not tried again until it changes.</summary>
    internal ReloadOutcome TryReload(out string? problem)
    {
        problem = null;
        TlsFileSet files;
        try
        {
            files = TlsFileSet.Read(_options);
        }
        catch (TlsConfigurationException ex)
        {
            problem = ex.Message;
            Volatile.Write(ref _lastFailedHash, []);
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
            Volatile.Write(ref _lastFailedHash, files.Hash);
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

    /// <summary>A failed reload that persisted: the edit is rejected and the serving material stays.</summary>
    private void Reject(string problem)
    {
        Volatile.Write(ref _lastRejectedHash, Volatile.Read(ref _lastFailedHash));
        _metrics.TlsReloaded("rejected");
        TlsLog.ReloadRejected(_logger, problem, _current?.Certificate.Thumbprint ?? "");
        ReloadRejected?.Invoke(problem);
    }

    public void Dispose() => _reloads?.Dispose();
}
