using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SiteX.Samples;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the sample Echo service's endpoints.</summary>
public static class EchoSampleEndpointRouteBuilderExtensions
{
    /// <summary>The path of the plain-text HTTP endpoint.</summary>
    public const string HelloPath = "/hello";

    /// <summary>Maps <c>sitex.samples.v1.Echo</c> and <c>GET /hello</c> (which answers <c>Hello from NAME</c>).</summary>
    public static IEndpointRouteBuilder MapEchoSample(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var name = endpoints.ServiceProvider.GetRequiredService<IOptions<EchoServiceOptions>>().Value.Name;
        var hello = $"Hello from {name}";
        endpoints.MapGrpcService<EchoService>();
        endpoints.MapGet(HelloPath, () => hello);
        return endpoints;
    }
}
