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
/// optional fields skipped), so operators keep their greps. Lines are queued and written by one background task;
/// the hot path never waits on the disk. If the writer falls behind, lines are dropped and counted.
/// </summary>
public sealed class AccessLog : IHostedService, IAsyncDisposable
{
    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(65_536)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });
    private readonly SiteXOptions _options;
    private readonly ILogger<AccessLog> _logger;
    private readonly TimeProvider _time;
    private Task? _writer;
    private long _dropped;

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

        if (!_lines.Writer.TryWrite(Format(call, _time.GetLocalNow())))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>Formats one call as a flow.log line (wire-contract 2.10).</summary>
    public static string Format(GatewayCall call, DateTimeOffset now)
    {
        var b = new StringBuilder(256);
        b.Append(now.ToString("yyyy-MM-dd HH:mm:ss,fff", CultureInfo.InvariantCulture));
        b.Append('|').Append(call.Protocol);
        Field(b, null, call.TraceId);
        b.Append('|').Append(call.Action);
        Field(b, null, call.Uri);
        Field(b, "session:", call.SessionId);
        Field(b, "topic:", call.Topic);
        Field(b, "src:", call.SourceParty);
        Field(b, "des:", call.TargetParty);
        Field(b, "code:", call.StatusCode);
        b.Append("|cost:").Append(((long)call.Elapsed.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
        Field(b, null, call.Endpoint?.Display);
        b.Append("|size:").Append(call.RequestBytes.ToString(CultureInfo.InvariantCulture));
        Field(b, "msg:", call.ErrorMessage);
        return b.ToString();
    }

    private static void Field(StringBuilder b, string? label, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        b.Append('|').Append(label);
        foreach (var c in value)
        {
            // A value can never break the line format: no separators, no line breaks.
            b.Append(c is '|' or '\r' or '\n' ? '_' : c);
        }
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
            var stream = new FileStream(target, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 4096, useAsync: false);
            output = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = false };
        }

        _writer = Task.Run(() => WriteLoopAsync(output, ownsOutput: target != "-"), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task WriteLoopAsync(TextWriter output, bool ownsOutput)
    {
        try
        {
            var reader = _lines.Reader;
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var line))
                {
                    await output.WriteLineAsync(line).ConfigureAwait(false);
                }

                await output.FlushAsync().ConfigureAwait(false);
                var dropped = Interlocked.Exchange(ref _dropped, 0);
                if (dropped > 0)
                {
                    ForwardingLog.AccessLogDropped(_logger, dropped);
                }
            }
        }
        finally
        {
            if (ownsOutput)
            {
                await output.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _lines.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer.ConfigureAwait(false);
        }
    }
}
