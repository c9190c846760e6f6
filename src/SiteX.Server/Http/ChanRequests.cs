using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using SiteX.Server.Forwarding;

namespace SiteX.Server.Http;

/// <summary>
/// Reading and refusing requests on the HTTP/1.1 interconnection port, shared by its endpoints: JSON bodies are read
/// as streams under a limit, and whatever cannot be used gets a 4xx JSON error naming the problem.
/// </summary>
internal sealed class ChanRequests(ILogger<ChanRequests> logger)
{
    /// <summary>Reads a JSON body as a stream under <paramref name="limit"/>; null (after answering 4xx) when it
    /// cannot be used. An empty body reads as <c>{}</c> when <paramref name="allowEmpty"/>.</summary>
    public async Task<T?> ReadAsync<T>(HttpContext context, GatewayCall call, string self, JsonTypeInfo<T> type, long limit, bool allowEmpty)
        where T : class, new()
    {
        var what = context.Request.Path.Value;
        if (context.Request.ContentLength > limit)
        {
            await RefuseTooLargeAsync(context, call, self, limit);
            return null;
        }

        var stream = new LimitedReadStream(context.Request.Body, limit);
        try
        {
            var body = await JsonSerializer.DeserializeAsync(stream, type, context.RequestAborted);
            if (body is null)
            {
                await RefuseAsync(context, call, StatusCodes.Status400BadRequest, "malformed_json", $"SiteX gateway {self}: the body of {what} must be a JSON object, not null");
            }

            return body;
        }
        catch (BodyTooLargeException)
        {
            await RefuseTooLargeAsync(context, call, self, limit);
            return null;
        }
        catch (JsonException) when (allowEmpty && stream.BytesRead == 0)
        {
            return new T();
        }
        catch (JsonException ex)
        {
            var (error, problem) = Describe(ex, stream.BytesRead);
            await RefuseAsync(context, call, StatusCodes.Status400BadRequest, error, $"SiteX gateway {self}: the body of {what} {problem}");
            return null;
        }
    }

    public Task RefuseAsync(HttpContext context, GatewayCall call, int status, string error, string message)
    {
        HttpLog.Refused(logger, context.Request.Method, context.Request.Path.Value ?? "", status, error, message, call.TraceId);
        call.StatusCode = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        call.ErrorMessage = message;
        if (status == StatusCodes.Status413PayloadTooLarge)
        {
            // The rest of the body is not read; the connection cannot be reused for another request.
            context.Response.Headers.Connection = "close";
        }

        return ChanJson.WriteErrorAsync(context, status, error, message);
    }

    private Task RefuseTooLargeAsync(HttpContext context, GatewayCall call, string self, long limit) =>
        RefuseAsync(context, call, StatusCodes.Status413PayloadTooLarge, "too_large",
            $"SiteX gateway {self}: the body of {context.Request.Path.Value} is larger than {limit} bytes (MaxLocalMessageBytes / Queues:MaxMessageBytes)");

    private static (string Error, string Problem) Describe(JsonException ex, long bytesRead)
    {
        var where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "" : $" at {ex.Path}";
        if (bytesRead == 0)
        {
            return ("malformed_json", "is empty; send a JSON object");
        }

        if (ex.Path == "$.payload" && ex.InnerException is FormatException)
        {
            return ("bad_base64", "has a \"payload\" that is not a standard base64 string");
        }

        if (ex.Message.Contains("could not be converted", StringComparison.Ordinal))
        {
            return ("wrong_type", $"has a field of the wrong type{where} (topic, msgCode, msgFlag: strings; payload: base64 string; timeout: integer milliseconds)");
        }

        return ("malformed_json", $"is not valid JSON{where} (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})");
    }
}
