using System.Globalization;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace SiteX.Tests.Common;

/// <summary>
/// Writes log entries to a test's output. Entries logged after the test ended (a host still shutting down) are
/// dropped: xunit throws <see cref="InvalidOperationException"/> for them.
/// </summary>
public sealed class XunitLoggerProvider(ITestOutputHelper output, LogLevel minimumLevel = LogLevel.Debug) : ILoggerProvider
{
    private readonly DateTimeOffset _start = DateTimeOffset.UtcNow;

    /// <summary>Entries below this level are not written.</summary>
    public LogLevel MinimumLevel { get; } = minimumLevel;

    public ILogger CreateLogger(string categoryName) => new XunitLogger(this, categoryName);

    public void Dispose()
    {
    }

    private void Write(LogLevel level, string category, EventId eventId, string message, Exception? exception)
    {
        var elapsed = (DateTimeOffset.UtcNow - _start).TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
        var line = $"{elapsed}s {Abbreviate(level)} {category}[{eventId.Id}] {message}";
        if (exception is not null)
        {
            line += Environment.NewLine + exception;
        }

        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test has ended: "There is no currently active test."
        }
    }

    private static string Abbreviate(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };

    private sealed class XunitLogger(XunitLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= provider.MinimumLevel;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            if (IsEnabled(logLevel))
            {
                provider.Write(logLevel, category, eventId, formatter(state, exception), exception);
            }
        }
    }
}
