using System.Net.Http.Json;
using System.Text.Json;

namespace SiteX.Cli.Commands;

/// <summary>A failure talking to the admin API, with the message the user sees.</summary>
internal sealed class AdminApiException(string message) : Exception(message);

/// <summary>
/// The few admin API calls the CLI makes (docs/admin-api.md). The <see cref="HttpMessageHandler"/> is injected so
/// tests can point it at a real gateway or a fake; the CLI uses a plain <see cref="SocketsHttpHandler"/>.
/// </summary>
internal sealed class AdminApiClient(Uri baseAddress, HttpMessageHandler handler, AdminCredentials credentials) : IDisposable
{
    public static readonly Uri DefaultAddress = new("http://127.0.0.1:9380");
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private readonly HttpClient _http = new(handler, disposeHandler: false) { BaseAddress = baseAddress, Timeout = s_timeout };

    public Uri BaseAddress { get; } = baseAddress;

    /// <summary>Parses <c>--admin</c>: an absolute http(s) URL; null when it is not one.</summary>
    public static Uri? ParseAddress(string? text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) ? uri : null;

    /// <summary><c>GET /v1/queues</c>: the raw JSON text.</summary>
    public Task<string> GetQueuesJsonAsync(CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, "v1/queues"), cancellationToken);

    /// <summary><c>POST /v1/queues/release</c>: the raw JSON text of the answer.</summary>
    public Task<string> ReleaseJsonAsync(string session, string? topic, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/queues/release") { Content = JsonContent.Create(new ReleaseBody(session, topic), options: s_json) }, cancellationToken);

    public static T Parse<T>(string json, string what)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, s_json) ?? throw new JsonException("null");
        }
        catch (JsonException ex)
        {
            throw new AdminApiException($"the admin API answered {what} with JSON this sitex does not understand: {ex.Message}");
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<string> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            if (credentials.Token is { } token)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            }

            HttpResponseMessage response;
            string body;
            try
            {
                response = await _http.SendAsync(request, cancellationToken);
                body = await response.Content.ReadAsStringAsync(cancellationToken);
            }
            catch (HttpRequestException ex)
            {
                throw Unreachable(ex.Message);
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw Unreachable($"no answer within {s_timeout.TotalSeconds:0} s");
            }

            using (response)
            {
                if (response.StatusCode == System.Net.HttpStatusCode.Unauthorized)
                {
                    throw new AdminApiException($"the admin API at {BaseAddress} refused the request (401): {ErrorText(body)}; {credentials.Describe()}");
                }

                if (!response.IsSuccessStatusCode)
                {
                    throw new AdminApiException($"the admin API at {BaseAddress} answered {(int)response.StatusCode} {response.ReasonPhrase}: {ErrorText(body)}");
                }

                return body;
            }
        }
    }

    private AdminApiException Unreachable(string detail) =>
        new($"cannot reach the SiteX admin API at {BaseAddress}: {detail}; is sitex serve running? --admin sets the address");

    private static string ErrorText(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
            {
                return message.GetString()!;
            }
        }
        catch (JsonException)
        {
            // Not JSON: show it as it is.
        }

        return body.Length > 500 ? body[..500] + "..." : body;
    }

    private sealed record ReleaseBody(string Session, string? Topic);
}

/// <summary>The JSON of <c>GET /v1/queues</c>.</summary>
internal sealed record QueuesView(IReadOnlyList<SessionView> Sessions);

internal sealed record SessionView(string Session, int Depth, long Bytes, int WaitingPops, DateTimeOffset LastActivity, IReadOnlyList<TopicView> Topics);

internal sealed record TopicView(string Topic, int Depth, long Bytes, int Leased, int WaitingPops, DateTimeOffset? OldestMessageAt);

/// <summary>The JSON of <c>POST /v1/queues/release</c>.</summary>
internal sealed record ReleaseView(string Released, string? Topic, int DroppedMessages);
