using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>Start and stop of the small real Kestrel hosts the tests stand up beside gateways (fake FATE servers,
/// fake OSX peers, REST services), each listening on one 127.0.0.1 port chosen by the system.</summary>
internal static class LoopbackApp
{
    /// <summary>Starts <paramref name="app"/> (bounded), disposes it if it does not start, and returns its port.</summary>
    public static async Task<int> StartAsync(WebApplication app)
    {
        try
        {
            await app.StartAsync().DefaultTimeout();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address).Port;
    }

    public static async ValueTask StopAsync(WebApplication app)
    {
        await app.StopAsync().DefaultTimeout();
        await app.DisposeAsync();
    }
}
