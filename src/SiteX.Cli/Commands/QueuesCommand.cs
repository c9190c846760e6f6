using System.CommandLine;
using System.Globalization;

namespace SiteX.Cli.Commands;

/// <summary>
/// <c>sitex queues list</c> and <c>sitex queues release SESSION [--topic TOPIC]</c>: the PTP queues of a running
/// gateway, through its admin API (docs/admin-api.md).
/// </summary>
/// <remarks>Exit codes: 0 done, 1 the admin API could not be reached or refused, 2 a bad <c>--admin</c>. The admin
/// token comes from <c>--admin-token</c>, else <c>SITEX_ADMIN_TOKEN</c> (or <c>SITEX_ADMIN__TOKEN</c>, the gateway's own
/// setting), else the file <c>admin.token</c> the gateway wrote in its data directory (<c>--data-dir</c>, default
/// <c>./data</c>).</remarks>
internal static class QueuesCommand
{
    /// <param name="handler">Sends the admin API requests; null for a new <see cref="SocketsHttpHandler"/> per command.</param>
    /// <param name="time">The clock that ages the oldest messages; null for the system clock.</param>
    public static Command Create(TextWriter output, TextWriter error, HttpMessageHandler? handler = null, TimeProvider? time = null)
    {
        var admin = new Option<string>("--admin")
        {
            Description = "The gateway's admin API (its --admin-port, on the --admin-bind address)",
            HelpName = "url",
            DefaultValueFactory = _ => AdminApiClient.DefaultAddress.OriginalString,
            Recursive = true,
        };
        var token = new Option<string?>("--admin-token")
        {
            Description = "The admin API's bearer token; default: $SITEX_ADMIN_TOKEN, else the token the gateway wrote to <data-dir>/admin.token",
            HelpName = "token",
            Recursive = true,
        };
        var dataDir = new Option<string>("--data-dir")
        {
            Description = "The gateway's data directory (its --data-dir), where it writes admin.token",
            HelpName = "dir",
            DefaultValueFactory = _ => "./data",
            Recursive = true,
        };
        AdminCredentials Credentials(ParseResult parse) => AdminCredentials.Resolve(parse.GetValue(token), parse.GetValue(dataDir)!, Environment.GetEnvironmentVariable);
        var json = new Option<bool>("--json") { Description = "Print the admin API's JSON as it is" };
        var list = new Command("list", "Show every session and topic: messages waiting, bytes, messages being delivered, waiting pops, age of the oldest message.") { json };
        list.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(admin), Credentials(parse), output, error, handler, client => ListAsync(client, parse.GetValue(json), output, time ?? TimeProvider.System, cancellationToken)));

        var session = new Argument<string>("session") { Description = "The session id (x-ptp-session-id)" };
        var topic = new Option<string?>("--topic") { Description = "Release only this topic; without it the whole session", HelpName = "topic" };
        var release = new Command("release", "Drop a session's (or one topic's) unconsumed messages; every pop waiting on them is answered with code 138.") { session, topic };
        release.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(admin), Credentials(parse), output, error, handler, client => ReleaseAsync(client, parse.GetValue(session)!, parse.GetValue(topic), output, cancellationToken)));

        var queues = new Command("queues", "Inspect and release the PTP queues of a running gateway (via its admin API).") { admin, token, dataDir };
        queues.Subcommands.Add(list);
        queues.Subcommands.Add(release);
        return queues;
    }

    private static async Task<int> RunAsync(string? address, AdminCredentials credentials, TextWriter output, TextWriter error, HttpMessageHandler? handler, Func<AdminApiClient, Task> action)
    {
        var baseAddress = AdminApiClient.ParseAddress(address);
        if (baseAddress is null)
        {
            await error.WriteLineAsync($"sitex: --admin \"{address}\" is not an http(s) URL like {AdminApiClient.DefaultAddress}");
            return 2;
        }

        var ownHandler = handler is null ? new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5) } : null;
        try
        {
            using var client = new AdminApiClient(baseAddress, handler ?? ownHandler!, credentials);
            await action(client);
            await output.FlushAsync();
            return 0;
        }
        catch (AdminApiException ex)
        {
            await error.WriteLineAsync($"sitex: {ex.Message}");
            return 1;
        }
        finally
        {
            ownHandler?.Dispose();
        }
    }

    private static async Task ListAsync(AdminApiClient client, bool json, TextWriter output, TimeProvider time, CancellationToken cancellationToken)
    {
        var text = await client.GetQueuesJsonAsync(cancellationToken);
        if (json)
        {
            await output.WriteLineAsync(text.TrimEnd());
            return;
        }

        var view = AdminApiClient.Parse<QueuesView>(text, "GET /v1/queues");
        await output.WriteAsync(FormatTable(view, time.GetUtcNow()));
    }

    private static async Task ReleaseAsync(AdminApiClient client, string session, string? topic, TextWriter output, CancellationToken cancellationToken)
    {
        var text = await client.ReleaseJsonAsync(session, string.IsNullOrEmpty(topic) ? null : topic, cancellationToken);
        var view = AdminApiClient.Parse<ReleaseView>(text, "POST /v1/queues/release");
        var what = string.IsNullOrEmpty(view.Topic) ? $"session {view.Released}" : $"topic {view.Topic} of session {view.Released}";
        await output.WriteLineAsync($"released {what}: {view.DroppedMessages} unconsumed message(s) dropped");
    }

    /// <summary>One row per topic, sessions in the order the gateway lists them; a summary line at the end.</summary>
    internal static string FormatTable(QueuesView view, DateTimeOffset now)
    {
        var writer = new StringWriter(CultureInfo.InvariantCulture);
        if (view.Sessions.Count == 0)
        {
            writer.WriteLine("no queues: the gateway holds no sessions");
            return writer.ToString();
        }

        string[] header = ["SESSION", "TOPIC", "DEPTH", "BYTES", "LEASED", "WAITING POPS", "OLDEST"];
        var rows = new List<string[]>();
        foreach (var session in view.Sessions)
        {
            if (session.Topics.Count == 0)
            {
                rows.Add([session.Session, "-", "0", "0", "0", Number(session.WaitingPops), "-"]);
            }

            foreach (var topic in session.Topics)
            {
                var age = topic.OldestMessageAt is { } at ? Age(now - at) : "-";
                rows.Add([session.Session, topic.Topic, Number(topic.Depth), Number(topic.Bytes), Number(topic.Leased), Number(topic.WaitingPops), age]);
            }
        }

        var widths = header.Select((h, i) => Math.Min(64, rows.Select(r => r[i].Length).Append(h.Length).Max())).ToArray();
        var numeric = new[] { false, false, true, true, true, true, true };
        void Line(string[] cells) => writer.WriteLine(string.Join("  ", cells.Select((c, i) => Cell(c, widths[i], numeric[i]))).TrimEnd());
        Line(header);
        foreach (var row in rows)
        {
            Line(row);
        }

        writer.WriteLine($"{view.Sessions.Count} session(s), {view.Sessions.Sum(s => s.Topics.Count)} topic(s), {Number(view.Sessions.Sum(s => s.Depth))} message(s) waiting, {Number(view.Sessions.Sum(s => s.Bytes))} bytes unconsumed");
        return writer.ToString();
    }

    /// <summary>"850ms", "42s", "5m07s", "3h02m", "2d04h".</summary>
    internal static string Age(TimeSpan age)
    {
        if (age < TimeSpan.Zero)
        {
            age = TimeSpan.Zero; // clocks of the gateway and this machine disagree a little
        }

        return age.TotalSeconds < 1 ? $"{age.Milliseconds}ms"
            : age.TotalMinutes < 1 ? $"{(int)age.TotalSeconds}s"
            : age.TotalHours < 1 ? $"{(int)age.TotalMinutes}m{age.Seconds:00}s"
            : age.TotalDays < 1 ? $"{(int)age.TotalHours}h{age.Minutes:00}m"
            : $"{(int)age.TotalDays}d{age.Hours:00}h";
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Pads a cell; a name longer than the column is cut with "..." so one long id cannot break the table.</summary>
    private static string Cell(string text, int width, bool rightAligned)
    {
        if (text.Length > width)
        {
            text = text[..(width - 3)] + "...";
        }

        return rightAligned ? text.PadLeft(width) : text.PadRight(width);
    }
}
