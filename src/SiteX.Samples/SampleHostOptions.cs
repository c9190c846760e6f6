using System.Net;
using Microsoft.Extensions.Logging;

namespace SiteX.Samples;

/// <summary>How <see cref="SampleHost"/> starts a sample server.</summary>
public sealed record SampleHostOptions
{
    /// <summary>The name the server reports in <c>EchoReply.served_by</c>.</summary>
    public string Name { get; init; } = "echo";

    /// <summary>The address to listen on; the loopback address when not set.</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>The port to listen on; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>How long stopping waits for calls in progress before aborting them.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Adds logging providers; the server logs nowhere when not set.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }
}
