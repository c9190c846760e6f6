namespace SiteX.Tests.Common;

/// <summary>
/// Creates <see cref="TaskCompletionSource{TResult}"/>s that run continuations asynchronously, so completing one never
/// runs the waiter's code inline on the completing thread (a classic source of test deadlocks).
/// </summary>
public static class TestTcs
{
    public static TaskCompletionSource<T> Create<T>() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static TaskCompletionSource Create() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
