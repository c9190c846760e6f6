using Grpc.Core;

namespace SiteX.Protocol.Tests;

/// <summary>
/// A <see cref="CallInvoker"/> that records the method a generated client calls, then throws
/// <see cref="CallRecordedException"/> instead of sending anything.
/// </summary>
internal sealed class RecordingCallInvoker : CallInvoker
{
    public List<(string FullName, MethodType Type)> Calls { get; } = [];

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw Record(method);

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw Record(method);

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw Record(method);

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw Record(method);

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw Record(method);

    private CallRecordedException Record<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class
    {
        Calls.Add((method.FullName, method.Type));
        return new CallRecordedException();
    }
}

internal sealed class CallRecordedException : Exception
{
    public CallRecordedException()
        : base("The call was recorded and not sent.")
    {
    }
}
