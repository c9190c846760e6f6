using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using SiteX.Protocol.Ptp;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>The answer of a <c>/v1/interconn/chan/*</c> call: HTTP status and the JSON body's fields.</summary>
internal sealed record ChanReply(HttpStatusCode Status, string? Code, string? Message, string? Error, byte[]? Payload, string Raw);

/// <summary>
/// A FATE-style queue client of the HTTP/1.1 interconnection port: JSON bodies with standard base64 payloads,
/// <c>x-ptp-*</c> headers, payloads that are serialized <c>osx.Message</c>s as FATE's MQChannel produces them.
/// </summary>
internal sealed class HttpChanClient(HttpClient http, int port, string session, string myParty, string scheme = "http")
{
    public Uri Url(string operation) => new($"{scheme}://127.0.0.1:{port}/v1/interconn/chan/{operation}");

    public Task<ChanReply> ProduceAsync(string peerParty, string topic, string name, string tag, byte[] body)
    {
        var head = JsonSerializer.Serialize(new Dictionary<string, string> { ["content_type"] = "text/plain", ["app_id"] = peerParty, ["message_id"] = name, ["correlation_id"] = tag });
        var message = new Message { Head = ByteString.CopyFromUtf8(head), Body = ByteString.CopyFrom(body) };
        return PushAsync(peerParty, topic, message.ToByteArray());
    }

    public Task<ChanReply> PushAsync(string peerParty, string topic, byte[] payload) =>
        SendAsync("push", JsonSerializer.Serialize(new { topic, payload = Convert.ToBase64String(payload) }), ("x-ptp-target-node-id", peerParty));

    public async Task<(Message Message, Dictionary<string, string> Properties, ChanReply Raw)> ConsumeAsync(string topic, int timeoutMs = 60_000)
    {
        var reply = await PopAsync(topic, timeoutMs);
        var message = Message.Parser.ParseFrom(reply.Payload ?? []);
        var properties = message.Head.IsEmpty ? [] : JsonSerializer.Deserialize<Dictionary<string, string>>(message.Head.Span) ?? [];
        return (message, properties, reply);
    }

    /// <summary><c>/v1/interconn/chan/invoke</c> of <paramref name="uri"/> at <paramref name="target"/>.</summary>
    public Task<ChanReply> InvokeAsync(string target, string uri, byte[] payload, params (string Name, string Value)[] headers) =>
        SendAsync("invoke", JsonSerializer.Serialize(new { payload = Convert.ToBase64String(payload) }),
            [("x-ptp-target-node-id", target), ("x-ptp-uri", uri), .. headers]);

    public Task<ChanReply> PopAsync(string topic, int timeoutMs) =>
        SendAsync("pop", JsonSerializer.Serialize(new { topic, timeout = timeoutMs }));

    public Task<ChanReply> PeekAsync(string topic) => SendAsync("peek", JsonSerializer.Serialize(new { topic }));

    public Task<ChanReply> ReleaseAsync(string topic = "") => SendAsync("release", JsonSerializer.Serialize(new { topic }));

    /// <summary>Sends a raw body (any bytes, any headers); the session and source headers are added unless
    /// <paramref name="withSession"/> is false.</summary>
    public async Task<ChanReply> SendRawAsync(string operation, HttpContent content, bool withSession = true, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url(operation)) { Content = content };
        request.Headers.Add("x-ptp-trace-id", $"{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}_{Random.Shared.Next(10000).ToString(CultureInfo.InvariantCulture)}");
        request.Headers.Add("x-ptp-from-node-id", myParty);
        if (withSession)
        {
            request.Headers.Add("x-ptp-session-id", session);
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        using var response = await http.SendAsync(request);
        return await ReadAsync(response);
    }

    public static async Task<ChanReply> ReadAsync(HttpResponseMessage response)
    {
        var raw = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(raw);
        var root = json.RootElement;
        string? Field(string name) => root.TryGetProperty(name, out var value) ? value.GetString() : null;
        var payload = Field("payload");
        return new ChanReply(response.StatusCode, Field("code"), Field("msg") ?? Field("message"), Field("error"), payload is null ? null : Convert.FromBase64String(payload), raw);
    }

    private Task<ChanReply> SendAsync(string operation, string json, params (string Name, string Value)[] headers) =>
        SendRawAsync(operation, Json(json), withSession: true, headers);

    public static StringContent Json(string json)
    {
        var content = new StringContent(json, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json;charset=UTF-8");
        return content;
    }
}
