using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using SiteX.Server.Configuration;
using SiteX.Server.Diagnostics;
using SiteX.Server.Forwarding;
using SiteX.Server.Hosting;
using Microsoft.Extensions.Logging;
using SiteX.Server.Queues;
using SiteX.Server.Queues.Storage;
using SiteX.Server.Routing;
using SiteX.Server.Security;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers SiteX's services. Everything is added with <c>TryAdd</c>, so a host can replace a part.</summary>
public static class SiteXServiceCollectionExtensions
{
    public static IServiceCollection AddSiteX(this IServiceCollection services, SiteXOptions options)
    {
        services.TryAddSingleton<IOptions<SiteXOptions>>(Microsoft.Extensions.Options.Options.Create(options));
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton<GatewayMetrics>();
        services.TryAddSingleton<RouteTableManager>();
        services.TryAddSingleton<GatewayIdentity>();
        services.TryAddSingleton<SiteX.Server.Security.RequestTokens>();
        services.TryAddSingleton<NextHopClientPool>();
        services.TryAddSingleton<SiteX.Server.Forwarding.H2.H2Relay>();
        services.TryAddSingleton<PermissionGate>();
        services.TryAddSingleton<SiteX.Server.Admin.AdminToken>();
        services.TryAddSingleton<SiteX.Server.Admin.AdminGuard>();
        services.TryAddSingleton<CallForwarder>();
        services.TryAddSingleton<InterconnClient>();
        services.TryAddSingleton<InvokeRelay>();
        services.TryAddSingleton<PacketRelay>();
        services.TryAddSingleton<LocalInvoke>();
        services.TryAddSingleton<GrpcToHttpConversion>();
        services.TryAddSingleton<PassThrough>();
        services.TryAddSingleton<TlsMaterialManager>();
        services.TryAddSingleton<TlsHandshakes>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPeerAuthenticator, CertificatePeerAuthenticator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPeerAuthenticator, TokenPeerAuthenticator>());
        services.TryAddSingleton<InterSiteGuard>();
        services.TryAddSingleton<GrpcPlane>();
        services.TryAddSingleton<CallPipeline>();
        services.TryAddSingleton<IQueueStore>(sp => new SegmentedLogStore(
            new QueueStoreOptions
            {
                Directory = Path.Combine(options.DataDir, "queues"),
                Durability = options.Queues.Durability,
                SegmentBytes = options.Queues.SegmentBytes,
                MaxDiskBytes = options.Queues.MaxDiskBytes,
                MaxMessageBytes = options.Queues.MaxMessageBytes,
                Preallocation = options.Queues.Preallocation,
            },
            sp.GetRequiredService<ILogger<SegmentedLogStore>>(),
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<QueueMetrics>();
        services.TryAddSingleton<QueueManager>();
        services.AddHostedService(sp => sp.GetRequiredService<QueueManager>());
        services.TryAddSingleton<PushRelay>();
        services.TryAddSingleton<QueueCalls>();
        services.TryAddSingleton<PtpQueueEndpoints>();
        services.TryAddSingleton<SiteX.Server.Http.HttpQueueEndpoints>();
        services.TryAddSingleton<SiteX.Server.Http.HttpInvokeEndpoint>();
        services.TryAddSingleton<SiteX.Server.Http.ChanRequests>();
        services.TryAddSingleton<SiteX.Server.Http.HttpPlane>();
        services.TryAddSingleton<AccessLog>();
        services.AddHostedService(sp => sp.GetRequiredService<AccessLog>());
        services.TryAddSingleton<IdleMemoryTrimmer>();
        services.AddHostedService(sp => sp.GetRequiredService<IdleMemoryTrimmer>());
        services.AddHttpForwarder();
        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            // The runtime's own meter (GC, allocations, thread pool, JIT, CPU time) next to the gateway's: what an
            // operator needs to tell a slow peer from a gateway short of CPU or memory.
            metrics.AddMeter(GatewayMetrics.MeterName, GatewayMetrics.RuntimeMeterName).AddPrometheusExporter();

            // OpenTelemetry subscribes to meters by name, process-wide. Keep only this host's meter, so that each
            // gateway in a process (in-process tests, benchmarks, demos) exports its own calls, not every gateway's.
            ((IDeferredMeterProviderBuilder)metrics).Configure((sp, builder) =>
            {
                var meterFactory = sp.GetRequiredService<IMeterFactory>();
                builder.AddView(instrument => instrument.Meter.Name == GatewayMetrics.MeterName && !ReferenceEquals(instrument.Meter.Scope, meterFactory)
                    ? MetricStreamConfiguration.Drop
                    : null);
            });
        });
        return services;
    }
}
