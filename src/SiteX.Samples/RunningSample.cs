using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace SiteX.Samples;

/// <summary>A sample server started by <see cref="SampleHost"/>. Dispose it to stop the server.</summary>
public sealed class RunningSample : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private Task? _stopping;

    internal RunningSample(WebApplication app, string name, IPEndPoint endPoint)
    {
        _app = app;
        Name = name;
        Port = endPoint.Port;
        Address = endPoint.ToString();
        Url = new Uri("http://" + Address);
        Observer = app.Services.GetRequiredService<EchoObserver>();
    }

    /// <summary>The name the server reports in <c>EchoReply.served_by</c>.</summary>
    public string Name { get; }

    /// <summary>The port the server is bound to.</summary>
    public int Port { get; }

    /// <summary>The bound endpoint as <c>host:port</c>, e.g. <c>127.0.0.1:5123</c> (an IPv6 host is bracketed).</summary>
    public string Address { get; }

    /// <summary>The cleartext HTTP/2 base address, e.g. <c>http://127.0.0.1:5123</c>, for a gRPC channel.</summary>
    public Uri Url { get; }

    /// <summary>What the server saw: counters and cancellation signals.</summary>
    public EchoObserver Observer { get; }

    /// <summary>The server's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Stops the server: calls in progress get the shutdown timeout to finish, calls waiting for cancellation end
    /// with <c>Unavailable</c> at once. Calling it again returns the same task.
    /// </summary>
    public Task StopAsync()
    {
        lock (_gate)
        {
            return _stopping ??= _app.StopAsync();
        }
    }

    /// <summary>Stops the server and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }
}
