using SiteX.Server.Diagnostics;
using SiteX.Server.Forwarding;

namespace SiteX.Server.Tests.Diagnostics;

public sealed class AccessLogTests
{
    [Fact]
    public void Format_FullCall_KeepsOsxFieldOrderAndSkipsEmptyFields()
    {
        var call = new GatewayCall("GRPC", "MSG_REDIRECT")
        {
            TraceId = "1732812001_42",
            Uri = "/org.ppc.ptp.PrivateTransferProtocol/invoke",
            SessionId = "job-1",
            SourceParty = "9999",
            TargetParty = "10000",
            StatusCode = "E0000000000",
            RequestBytes = 12,
        };

        var line = AccessLog.Format(call, new DateTimeOffset(2026, 11, 28, 16, 40, 1, 532, TimeSpan.Zero));

        Assert.Matches(
            @"^2026-11-28 16:40:01,532\|GRPC\|1732812001_42\|MSG_REDIRECT\|/org\.ppc\.ptp\.PrivateTransferProtocol/invoke\|session:job-1\|src:9999\|des:10000\|code:E0000000000\|cost:\d+\|size:12$",
            line);
    }

    [Fact]
    public void Format_HostileValues_CannotBreakTheLine()
    {
        var call = new GatewayCall("GRPC", "MSG_REDIRECT") { TraceId = "a|b\nc", ErrorMessage = "x\r\ny" };

        var line = AccessLog.Format(call, DateTimeOffset.UnixEpoch);

        Assert.DoesNotContain('\n', line);
        Assert.DoesNotContain('\r', line);
        Assert.Contains("|a_b_c|", line, StringComparison.Ordinal);
        Assert.EndsWith("|msg:x__y", line, StringComparison.Ordinal);
    }
}
