using Microsoft.Extensions.Logging;

namespace SiteX.Tests.Common;

/// <summary>One log entry captured by <see cref="TestLoggerProvider"/>.</summary>
public sealed record TestLogEntry(LogLevel Level, string Category, EventId EventId, string Message, Exception? Exception)
{
    public override string ToString() =>
        $"{Level} {Category}[{EventId.Id}:{EventId.Name}] {Message}" + (Exception is null ? "" : Environment.NewLine + Exception);
}
