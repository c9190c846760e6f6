using Microsoft.Extensions.Logging;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>
/// Captures a host's log entries and lets a test await a particular entry (for example "route table edit rejected"),
/// so it can wait for something that raises no other event without polling or sleeping.
/// </summary>
internal sealed class SignalingLoggerProvider : ILoggerProvider
{
    private readonly Lock _gate = new();
    private readonly List<TestLogEntry> _entries = [];
    private readonly List<(Func<TestLogEntry, bool> Match, TaskCompletionSource<TestLogEntry> Signal)> _waiters = [];

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

    /// <summary>Completes with the first entry, from now on, that <paramref name="match"/> accepts.</summary>
    public Task<TestLogEntry> WaitForAsync(Func<TestLogEntry, bool> match)
    {
        var signal = TestTcs.Create<TestLogEntry>();
        lock (_gate)
        {
            _waiters.Add((match, signal));
        }

        return signal.Task;
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(TestLogEntry entry)
    {
        List<TaskCompletionSource<TestLogEntry>>? matched = null;
        lock (_gate)
        {
            _entries.Add(entry);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(entry))
                {
                    (matched ??= []).Add(_waiters[i].Signal);
                    _waiters.RemoveAt(i);
                }
            }
        }

        matched?.ForEach(s => s.TrySetResult(entry));
    }

    private sealed class Logger(SignalingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            provider.Add(new TestLogEntry(logLevel, category, eventId, formatter(state, exception), exception));
        }
    }
}
