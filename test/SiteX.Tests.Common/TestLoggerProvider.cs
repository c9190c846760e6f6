using Microsoft.Extensions.Logging;
using Xunit;

namespace SiteX.Tests.Common;

/// <summary>
/// Captures every log entry of a host, thread-safely, so a test can assert on what was logged and fail on any
/// unexpected error (<see cref="AssertNoErrors"/>).
/// </summary>
public sealed class TestLoggerProvider : ILoggerProvider
{
    private readonly Lock _gate = new();
    private readonly List<TestLogEntry> _entries = [];

    /// <summary>A snapshot of the entries captured so far, oldest first.</summary>
    public IReadOnlyList<TestLogEntry> Entries
    {
        get
        {
            lock (_gate)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>The entries at <see cref="LogLevel.Error"/> or above.</summary>
    public IReadOnlyList<TestLogEntry> Errors => [.. Entries.Where(e => e.Level >= LogLevel.Error)];

    public ILogger CreateLogger(string categoryName) => new TestLogger(this, categoryName);

    /// <summary>Forgets every entry captured so far.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _entries.Clear();
        }
    }

    /// <summary>
    /// Fails the test if an entry at <see cref="LogLevel.Error"/> or above was logged that <paramref name="isExpected"/>
    /// does not accept, listing every such entry.
    /// </summary>
    public void AssertNoErrors(Func<TestLogEntry, bool>? isExpected = null)
    {
        var unexpected = Errors.Where(e => isExpected is null || !isExpected(e)).ToList();
        if (unexpected.Count > 0)
        {
            Assert.Fail($"{unexpected.Count} unexpected error log(s):{Environment.NewLine}"
                + string.Join(Environment.NewLine, unexpected));
        }
    }

    public void Dispose()
    {
    }

    internal void Add(TestLogEntry entry)
    {
        lock (_gate)
        {
            _entries.Add(entry);
        }
    }

    private sealed class TestLogger(TestLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            if (IsEnabled(logLevel))
            {
                provider.Add(new TestLogEntry(logLevel, category, eventId, formatter(state, exception), exception));
            }
        }
    }
}
