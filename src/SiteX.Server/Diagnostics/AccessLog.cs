using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SiteX.Server.Configuration;
using SiteX.Server.Forwarding;

namespace SiteX.Server.Diagnostics;

/// <summary>
/// The access log: one line per call in OSX's <c>flow.log</c> format (fields '|'-separated in OSX's order, empty
/// optional fields skipped), so operators keep their greps. The hot path only queues a snapshot of the call (a struct
/// of references it already holds: no text is built there); one background task formats the lines straight into the
/// file's buffer and never makes the call wait on the disk. If the writer falls behind, lines are dropped and counted.
/// </summary>
public sealed class AccessLog : IHostedService, IAsyncDisposable
{
    private readonly Channel<AccessLogEntry> _lines = Channel.CreateBounded<AccessLogEntry>(new BoundedChannelOptions(65_536)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });
    private readonly SiteXOptions _options;
    private readonly ILogger<AccessLog> _logger;
    private readonly TimeProvider _time;
    private Task? _writer;
    private Timer? _flushTimer;
    private long _dropped;
    private int _unflushed;

    /// <summary>Longest time a line waits in the writer's buffer before it is written to the file.</summary>
    internal static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(100);

    public AccessLog(IOptions<SiteXOptions> options, ILogger<AccessLog> logger, TimeProvider time)
    {
        _options = options.Value;
        _logger = logger;
        _time = time;
    }

    /// <summary>Where lines go: a file path, or "-" for standard output; null when disabled.</summary>
    public string? Target => !_options.AccessLogEnabled ? null
        : string.IsNullOrWhiteSpace(_options.AccessLog) ? Path.Combine(_options.DataDir, "logs", "flow.log")
        : _options.AccessLog;

    public void Write(GatewayCall call)
    {
        if (_writer is null)
        {
            return;
        }

        if (!_lines.Writer.TryWrite(AccessLogEntry.Of(call, _time.GetLocalNow())))
        {
            Interlocked.Increment(ref _dropped);
        }

        if (Volatile.Read(ref _unflushed) == 0)
        {
            Volatile.Write(ref _unflushed, 1); // written once per flush interval, not by every call
        }
    }

    /// <summary>Formats one call as a flow.log line (wire-contract 2.10).</summary>
    public static string Format(GatewayCall call, DateTimeOffset now)
    {
        using var line = new StringWriter(CultureInfo.InvariantCulture);
        AccessLogEntry.Of(call, now).WriteTo(line, new char[64]);
        return line.ToString();
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var target = Target;
        if (target is null)
        {
            return Task.CompletedTask;
        }

        TextWriter output;
        if (target == "-")
        {
            output = Console.Out;
        }
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(target))!);
            var stream = new FileStream(target, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, useAsync: false);
            output = new StreamWriter(stream, new UTF8Encoding(false), 16 * 1024) { AutoFlush = false };
        }

        _writer = Task.Run(() => WriteLoopAsync(output, ownsOutput: target != "-"), CancellationToken.None);
        _flushTimer = new Timer(_ => RequestFlush(), null, FlushInterval, FlushInterval);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Writes queued lines until the queue is completed. Lines collect in the writer's buffer and reach the file when it
    /// fills or when the flush timer queues its marker (every <see cref="FlushInterval"/>, only after new lines): at
    /// thousands of calls a second that is a few writes to the file per interval, not one per burst of lines.
    /// </summary>
    private async Task WriteLoopAsync(TextWriter output, bool ownsOutput)
    {
        try
        {
            var reader = _lines.Reader;
            var scratch = new char[64];
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var entry))
                {
                    if (entry.IsFlushMarker)
                    {
                        await FlushAsync(output).ConfigureAwait(false);
                        continue;
                    }

                    entry.WriteTo(output, scratch);
                    output.WriteLine();
                }
            }

            await FlushAsync(output).ConfigureAwait(false);
        }
        finally
        {
            if (ownsOutput)
            {
                await output.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The flush timer's tick: a flush marker into the queue, when lines came since the last one.</summary>
    private void RequestFlush()
    {
        if (Interlocked.Exchange(ref _unflushed, 0) == 1)
        {
            _lines.Writer.TryWrite(default);
        }
    }

    private async Task FlushAsync(TextWriter output)
    {
        await output.FlushAsync().ConfigureAwait(false);
        var dropped = Interlocked.Exchange(ref _dropped, 0);
        if (dropped > 0)
        {
            ForwardingLog.AccessLogDropped(_logger, dropped);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _flushTimer?.Dispose();
        _lines.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _flushTimer?.Dispose();
        _lines.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer.ConfigureAwait(false);
        }
    }
}

/// <summary>What the access log keeps of one call until its line is written: the call's own strings, no copies.</summary>
internal readonly record struct AccessLogEntry(
    DateTimeOffset Time, string Protocol, string? TraceId, string Action, string? Uri, string? SessionId, string? Topic, string? SourceParty,
    string? TargetParty, string? StatusCode, long CostMs, string? Endpoint, long RequestBytes, string? ErrorMessage)
{
    /// <summary>The entry the flush timer queues (the default value: no call has a null protocol).</summary>
    public bool IsFlushMarker => Protocol is null;

    public static AccessLogEntry Of(GatewayCall call, DateTimeOffset now) => new(
        now, call.Protocol, call.TraceId, call.Action, call.Uri, call.SessionId, call.Topic, call.SourceParty, call.TargetParty, call.StatusCode,
        (long)call.Elapsed.TotalMilliseconds, call.Endpoint?.Display, call.RequestBytes, call.ErrorMessage);

    /// <summary>Writes the line (without its line break); <paramref name="scratch"/> formats the time and numbers.</summary>
    public void WriteTo(TextWriter output, char[] scratch)
    {
        Time.TryFormat(scratch, out var written, "yyyy-MM-dd HH:mm:ss,fff", CultureInfo.InvariantCulture);
        output.Write(scratch.AsSpan(0, written));
        output.Write('|');
        output.Write(Protocol);
        Field(output, null, TraceId);
        output.Write('|');
        output.Write(Action);
        Field(output, null, Uri);
        Field(output, "session:", SessionId);
        Field(output, "topic:", Topic);
        Field(output, "src:", SourceParty);
        Field(output, "des:", TargetParty);
        Field(output, "code:", StatusCode);
        output.Write("|cost:");
        Number(output, CostMs, scratch);
        Field(output, null, Endpoint);
        output.Write("|size:");
        Number(output, RequestBytes, scratch);
        Field(output, "msg:", ErrorMessage);
    }

    private static void Number(TextWriter output, long value, char[] scratch)
    {
        value.TryFormat(scratch, out var written, default, CultureInfo.InvariantCulture);
        output.Write(scratch.AsSpan(0, written));
    }

    private static void Field(TextWriter output, string? label, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        output.Write('|');
        output.Write(label);
        if (value.AsSpan().IndexOfAny('|', '\r', '\n') < 0)
        {
            output.Write(value);
            return;
        }

        foreach (var c in value)
        {
            // A value can never break the line format: no separators, no line breaks.
            output.Write(c is '|' or '\r' or '\n' ? '_' : c);
        }
    }
}
