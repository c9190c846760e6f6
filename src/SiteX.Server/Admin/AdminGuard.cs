using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using SiteX.Protocol;
using SiteX.Server.Diagnostics;
using SiteX.Server.Routing;

namespace SiteX.Server.Admin;

/// <summary>
/// The door of the admin port, in front of every admin endpoint:
/// <list type="number">
/// <item>a request that passed through a SiteX gateway (it carries <c>x-sitex-via</c> or <c>x-sitex-hops</c>) is
/// refused with 403, whatever it asks for: the admin API is never served through the data plane, even if a route
/// table points a service at the admin port;</item>
/// <item><c>GET /healthz</c> and <c>GET /metrics</c> stay open (read-only, nothing secret: for probes and scrapers);</item>
/// <item>everything else needs <c>Authorization: Bearer &lt;token&gt;</c> (<see cref="AdminToken"/>); without it, or
/// with another token, the answer is 401 with <c>WWW-Authenticate: Bearer</c> and nothing else is said.</item>
/// </list>
/// Refusals are logged at most once a minute at Warning (event 1501, with how many there were), each at Debug (1502),
/// so that a client hammering the port cannot flood the log.
/// </summary>
internal sealed class AdminGuard
{
    private static readonly TimeSpan s_warningInterval = TimeSpan.FromMinutes(1);
    private readonly AdminToken _token;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private DateTimeOffset _nextWarning = DateTimeOffset.MinValue;
    private DateTimeOffset _since;
    private int _refusedSinceWarning;

    public AdminGuard(AdminToken token, TimeProvider time, ILoggerFactory loggers)
    {
        _token = token;
        _time = time;
        _logger = loggers.CreateLogger(AuditCategory);
    }

    /// <summary>The log category of the admin plane's audit trail and refusals.</summary>
    public const string AuditCategory = "SiteX.Audit";

    /// <summary>The audit trail's logger (changes made through the admin API: <see cref="AuditLog.Change"/>).</summary>
    public ILogger Audit => _logger;

    /// <summary>Read-only endpoints served without a token.</summary>
    public static bool IsOpen(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) && request.Path.Value is "/healthz" or "/metrics";

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (request.Headers.ContainsKey(SiteXHeaders.Via) || request.Headers.ContainsKey(SiteXHeaders.Hops))
        {
            NoteRefusal(context, "a request forwarded by a gateway");
            await AdminEndpoints.WriteAsync(context, StatusCodes.Status403Forbidden, new
            {
                error = "forbidden",
                message = "the admin API is served only to clients of the admin port, never to requests forwarded by a gateway",
            });
            return;
        }

        if (IsOpen(request))
        {
            await next(context);
            return;
        }

        var credential = _token.Verify(request.Headers.Authorization);
        if (credential == AdminCredential.Valid)
        {
            await next(context);
            return;
        }

        NoteRefusal(context, credential switch
        {
            AdminCredential.Missing => "a request without a token",
            AdminCredential.Malformed => "a request with a malformed Authorization header",
            _ => "a request with a wrong token",
        });
        context.Response.Headers.WWWAuthenticate = credential == AdminCredential.Wrong
            ? "Bearer realm=\"sitex-admin\", error=\"invalid_token\""
            : "Bearer realm=\"sitex-admin\"";
        await AdminEndpoints.WriteAsync(context, StatusCodes.Status401Unauthorized, new
        {
            error = "unauthorized",
            message = credential == AdminCredential.Wrong
                ? "the bearer token is not this gateway's admin token"
                : "the admin API needs the header Authorization: Bearer TOKEN; a gateway without Admin:Token or Admin:TokenFile writes its token to admin.token in its data directory",
        });
    }

    private void NoteRefusal(HttpContext context, string reason)
    {
        var remote = context.Connection.RemoteIpAddress?.ToString() ?? "?";
        var method = RouteTableParser.Truncate(context.Request.Method);
        var path = RouteTableParser.Truncate(context.Request.Path.Value ?? "");
        AuditLog.RefusedDetail(_logger, reason, remote, method, path);
        var now = _time.GetUtcNow();
        int count;
        DateTimeOffset since;
        lock (_gate)
        {
            if (_refusedSinceWarning == 0)
            {
                _since = now;
            }

            _refusedSinceWarning++;
            if (now < _nextWarning)
            {
                return;
            }

            count = _refusedSinceWarning;
            since = _since;
            _refusedSinceWarning = 0;
            _nextWarning = now + s_warningInterval;
        }

        AuditLog.Refused(_logger, count, since, reason, remote, method, path);
    }
}
