using System.CommandLine;
using System.Globalization;
using SiteX.Server.Configuration;

namespace SiteX.Cli.Commands;

/// <summary>
/// <c>sitex check PARTY</c>: from this site, verifies the route to a party step by step (the route table, the route,
/// and for each endpoint DNS, TCP, TLS with the certificate's chain, host name and party, and a round trip through
/// the peer's gateway) and says exactly which step fails and why. See <see cref="RouteCheck"/>.
/// </summary>
/// <remarks>Exit codes: 0 every step passed, 1 a step failed, 2 bad options or settings.</remarks>
internal static class CheckCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var settings = new ServeSettings();
        var party = new Argument<string>("party") { Description = "The party to check the route to, e.g. 10000" };
        var service = new Option<string>("--service") { Description = "The service (role) of the route", DefaultValueFactory = _ => "default", HelpName = "name" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds each network step may take", DefaultValueFactory = _ => 5, HelpName = "seconds" };
        var command = new Command("check", "Check the route to a party step by step: route, DNS, TCP, TLS (version, ALPN, certificate chain, host name, party) and a round trip through the peer's gateway. Uses the route table and settings `sitex serve` would use.")
        {
            party, service, timeout, settings.Config, settings.RouteTable, settings.SelfParty,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (await settings.TryBindAsync(parse, error) is not { } options)
            {
                return 2;
            }

            var seconds = parse.GetValue(timeout);
            if (seconds is <= 0 or > 600)
            {
                await error.WriteLineAsync($"sitex: --timeout {seconds.ToString(CultureInfo.InvariantCulture)} is out of range; use 0.1 to 600 seconds");
                return 2;
            }

            var check = new RouteCheck(output, TimeSpan.FromSeconds(seconds));
            var passed = await check.RunAsync(options, parse.GetValue(party)!, parse.GetValue(service)!, cancellationToken);
            await output.FlushAsync(cancellationToken);
            return passed ? 0 : 1;
        });
        return command;
    }
}
