using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using SiteX.Server.Forwarding;
using SiteX.Shared;

namespace SiteX.MicroBenchmarks;

/// <summary>What the gRPC and HTTP planes read from a call's headers: the call description, a pass-through's target,
/// the deadline and the loop headers.</summary>
[MemoryDiagnoser]
public class HeaderParsingBenchmarks
{
    private readonly GatewayCall _call = new("GRPC", "MSG_REDIRECT");
    private HeaderDictionary _ptp = null!;
    private HeaderDictionary _relayed = null!;
    private HeaderDictionary _fateFlow = null!;
    private GatewayIdentity _identity = null!;
    private string _self = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ptp = HotPathInputs.InvokeHeaders(relayed: false);
        _relayed = HotPathInputs.InvokeHeaders(relayed: true);
        _fateFlow = HotPathInputs.FateFlowHeaders();
        _identity = HotPathInputs.Identity();
        _self = HotPathInputs.SelfParty;
    }

    /// <summary><see cref="CallHeaders.Describe"/> on a PTP invoke's <c>x-ptp-*</c> headers.</summary>
    [Benchmark]
    public string? Describe_Ptp()
    {
        CallHeaders.Describe(_call, _ptp);
        return _call.SourceService;
    }

    /// <summary><see cref="CallHeaders.Describe"/> on FATE-Flow's metadata: every lookup falls through to its last spelling.</summary>
    [Benchmark]
    public string? Describe_FateFlow()
    {
        CallHeaders.Describe(_call, _fateFlow);
        return _call.SourceService;
    }

    /// <summary>A pass-through call's target party and service, as <c>PassThrough</c> reads them.</summary>
    [Benchmark]
    public string? TargetPartyAndService_Ptp() => CallHeaders.TargetParty(_ptp) ?? CallHeaders.TargetService(_ptp);

    [Benchmark]
    public string? TargetPartyAndService_FateFlow() => CallHeaders.TargetParty(_fateFlow) ?? CallHeaders.TargetService(_fateFlow);

    /// <summary>The <c>grpc-timeout</c> header, read and parsed as the forwarder does.</summary>
    [Benchmark]
    public TimeSpan GrpcDeadline_TryParse() => GrpcDeadline.TryParse(_ptp["grpc-timeout"], out var timeout) ? timeout : TimeSpan.Zero;

    /// <summary>A call from a local service: no loop headers yet.</summary>
    [Benchmark]
    public string CheckLoop_FirstHop() => _identity.CheckLoop(_ptp, _self).NextVia;

    /// <summary>A call relayed by a peer gateway: <c>x-sitex-hops</c> and <c>x-sitex-via</c> set, this gateway appended.</summary>
    [Benchmark]
    public string CheckLoop_Relayed() => _identity.CheckLoop(_relayed, _self).NextVia;
}
