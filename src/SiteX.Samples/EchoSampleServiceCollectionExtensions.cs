using Microsoft.Extensions.DependencyInjection.Extensions;
using SiteX.Samples;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the sample Echo service in any ASP.NET Core host.</summary>
public static class EchoSampleServiceCollectionExtensions
{
    /// <summary>
    /// Adds gRPC, the Echo service with unlimited message sizes, and a singleton <see cref="EchoObserver"/>.
    /// Map it with <c>MapEchoSample()</c>.
    /// </summary>
    public static IServiceCollection AddEchoSample(this IServiceCollection services, Action<EchoServiceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddGrpc().AddServiceOptions<EchoService>(grpc =>
        {
            grpc.MaxReceiveMessageSize = null;
            grpc.MaxSendMessageSize = null;
        });
        services.TryAddSingleton<EchoObserver>();
        services.TryAddSingleton(TimeProvider.System);
        var options = services.AddOptions<EchoServiceOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        return services;
    }
}
