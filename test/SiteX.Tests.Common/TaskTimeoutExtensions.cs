using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace SiteX.Tests.Common;

/// <summary>
/// Puts a timeout on an await, so a hung test fails with the file and line of the await instead of hanging the run.
/// Put <c>.DefaultTimeout()</c> on every await of something the test does not control.
/// </summary>
public static class TaskTimeoutExtensions
{
    /// <summary>The default timeout: generous, because CI machines have 2 cores and run builds in parallel.</summary>
    public static readonly TimeSpan DefaultTimeoutTimeSpan = TimeSpan.FromSeconds(30);

    public static async Task DefaultTimeout(
        this Task task,
        TimeSpan? timeout = null,
        [CallerFilePath] string filePath = "",
        [CallerLineNumber] int lineNumber = 0)
    {
        ArgumentNullException.ThrowIfNull(task);
        var limit = Limit(timeout);
        try
        {
            await task.WaitAsync(limit);
        }
        catch (TimeoutException ex) when (!task.IsCompleted)
        {
            throw CreateTimeoutException(limit, filePath, lineNumber, ex);
        }
    }

    public static async Task<T> DefaultTimeout<T>(
        this Task<T> task,
        TimeSpan? timeout = null,
        [CallerFilePath] string filePath = "",
        [CallerLineNumber] int lineNumber = 0)
    {
        ArgumentNullException.ThrowIfNull(task);
        var limit = Limit(timeout);
        try
        {
            return await task.WaitAsync(limit);
        }
        catch (TimeoutException ex) when (!task.IsCompleted)
        {
            throw CreateTimeoutException(limit, filePath, lineNumber, ex);
        }
    }

    public static Task DefaultTimeout(
        this ValueTask task,
        TimeSpan? timeout = null,
        [CallerFilePath] string filePath = "",
        [CallerLineNumber] int lineNumber = 0) =>
        task.AsTask().DefaultTimeout(timeout, filePath, lineNumber);

    public static Task<T> DefaultTimeout<T>(
        this ValueTask<T> task,
        TimeSpan? timeout = null,
        [CallerFilePath] string filePath = "",
        [CallerLineNumber] int lineNumber = 0) =>
        task.AsTask().DefaultTimeout(timeout, filePath, lineNumber);

    private static TimeSpan Limit(TimeSpan? timeout) =>
        Debugger.IsAttached ? Timeout.InfiniteTimeSpan : timeout ?? DefaultTimeoutTimeSpan;

    private static TimeoutException CreateTimeoutException(TimeSpan limit, string filePath, int lineNumber, Exception inner) =>
        new($"The operation at {filePath}:{lineNumber} timed out after {limit.TotalSeconds:0.###} s.", inner);
}
