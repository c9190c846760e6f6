using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace SiteX.Server.Serving;

/// <summary>Runs one request of an <see cref="H2ServerConnection"/> through the application.</summary>
internal interface IRequestRunner
{
    Task RunAsync(H2ServerStream stream);
}

/// <summary>
/// The ASP.NET Core application Kestrel serves, captured when the host starts its server, so that SiteX's own HTTP/2
/// server connections run each request through the same pipeline: the same middleware, routing, permission checks,
/// metrics and access log as a request Kestrel parsed.
/// </summary>
internal sealed class H2ServerApplication
{
    private IRequestRunner? _runner;

    /// <summary>The captured application; throws before the host started its server.</summary>
    public IRequestRunner Runner => Volatile.Read(ref _runner) ?? throw new InvalidOperationException("the host has not started its server yet");

    /// <summary>Replaces the <see cref="IServer"/> registered in <paramref name="services"/> (Kestrel) with one that
    /// captures the application as it starts.</summary>
    public static void CaptureIn(IServiceCollection services)
    {
        var descriptor = services.LastOrDefault(d => d.ServiceType == typeof(IServer))
            ?? throw new InvalidOperationException("no IServer is registered; configure Kestrel first");
        services.Remove(descriptor);
        services.AddSingleton<H2ServerApplication>();
        services.AddSingleton<IServer>(provider => new CapturingServer(Create(descriptor, provider), provider.GetRequiredService<H2ServerApplication>()));
    }

    private static IServer Create(ServiceDescriptor descriptor, IServiceProvider provider) => (IServer)(
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(provider)
        ?? ActivatorUtilities.CreateInstance(provider, descriptor.ImplementationType!));

    private void Capture<TContext>(IHttpApplication<TContext> application)
        where TContext : notnull => Volatile.Write(ref _runner, new ApplicationRunner<TContext>(application));

    private sealed class CapturingServer(IServer inner, H2ServerApplication holder) : IServer
    {
        public IFeatureCollection Features => inner.Features;

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
            where TContext : notnull
        {
            holder.Capture(application);
            return inner.StartAsync(application, cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => inner.StopAsync(cancellationToken);

        public void Dispose() => inner.Dispose();
    }

    /// <summary>What Kestrel does per request: create the context, run the pipeline, end the response (a 500 when the
    /// application failed before starting it), run the completion callbacks, dispose the context.</summary>
    private sealed class ApplicationRunner<TContext>(IHttpApplication<TContext> application) : IRequestRunner
        where TContext : notnull
    {
        public async Task RunAsync(H2ServerStream stream)
        {
            var context = application.CreateContext(stream.Features);
            Exception? error = null;
            try
            {
                await application.ProcessRequestAsync(context).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                error = ex;
            }

            try
            {
                await stream.EndResponseAsync(error).ConfigureAwait(false);
                await stream.FireOnCompletedAsync().ConfigureAwait(false);
            }
            finally
            {
                application.DisposeContext(context, error);
            }
        }
    }
}
