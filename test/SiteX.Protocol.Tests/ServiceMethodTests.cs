using Google.Protobuf.Reflection;
using Grpc.Core;
using Proxy = SiteX.Protocol.Eggroll.Proxy;
using Ptp = SiteX.Protocol.Ptp;

namespace SiteX.Protocol.Tests;

/// <summary>
/// Checks the full method paths of wire-contract.md section 2.1 against <see cref="PtpMethods"/>, the generated
/// descriptors and what the generated clients actually send.
/// </summary>
public class ServiceMethodTests
{
    /// <summary>Constant → literal path and call type from the contract.</summary>
    public static TheoryData<string, string, MethodType> ContractMethods => new()
    {
        { PtpMethods.Invoke, "/org.ppc.ptp.PrivateTransferProtocol/invoke", MethodType.Unary },
        { PtpMethods.Transport, "/org.ppc.ptp.PrivateTransferProtocol/transport", MethodType.DuplexStreaming },
        { PtpMethods.Push, "/org.ppc.ptp.PrivateTransferTransport/push", MethodType.Unary },
        { PtpMethods.Pop, "/org.ppc.ptp.PrivateTransferTransport/pop", MethodType.Unary },
        { PtpMethods.Peek, "/org.ppc.ptp.PrivateTransferTransport/peek", MethodType.Unary },
        { PtpMethods.Release, "/org.ppc.ptp.PrivateTransferTransport/release", MethodType.Unary },
        { PtpMethods.PacketPush, "/com.webank.ai.eggroll.api.networking.proxy.DataTransferService/push", MethodType.ClientStreaming },
        { PtpMethods.PacketUnaryCall, "/com.webank.ai.eggroll.api.networking.proxy.DataTransferService/unaryCall", MethodType.Unary },
        { PtpMethods.PacketPull, "/com.webank.ai.eggroll.api.networking.proxy.DataTransferService/pull", MethodType.ServerStreaming },
        { PtpMethods.PacketPolling, "/com.webank.ai.eggroll.api.networking.proxy.DataTransferService/polling", MethodType.DuplexStreaming },
    };

    private static readonly ServiceDescriptor[] s_servedServices =
    [
        Ptp.PrivateTransferProtocol.Descriptor,
        Ptp.PrivateTransferTransport.Descriptor,
        Proxy.DataTransferService.Descriptor,
    ];

    [Theory]
    [MemberData(nameof(ContractMethods))]
    public void PtpMethods_Constant_EqualsContractPath(string constant, string contractPath, MethodType _)
    {
        Assert.Equal(contractPath, constant);
    }

    [Theory]
    [MemberData(nameof(ContractMethods))]
    public void Descriptor_ContractMethod_ExistsWithSameCallType(string constant, string contractPath, MethodType type)
    {
        // Arrange
        var (service, method) = Split(contractPath);

        // Act
        var descriptor = s_servedServices.Single(s => s.FullName == service).FindMethodByName(method);

        // Assert
        Assert.NotNull(descriptor);
        Assert.Equal(constant, $"/{descriptor.Service.FullName}/{descriptor.Name}");
        Assert.Equal(type, TypeOf(descriptor));
    }

    [Fact]
    public void PtpMethods_ServiceNames_EqualDescriptorFullNames()
    {
        Assert.Equal(PtpMethods.PtpProtocolService, Ptp.PrivateTransferProtocol.Descriptor.FullName);
        Assert.Equal(PtpMethods.PtpTransportService, Ptp.PrivateTransferTransport.Descriptor.FullName);
        Assert.Equal(PtpMethods.DataTransferService, Proxy.DataTransferService.Descriptor.FullName);
    }

    [Fact]
    public void Descriptor_ServedServices_HaveNoMethodOutsideContract()
    {
        // Arrange
        var contract = ContractMethods.Select(row => (string)row[1]).Order().ToArray();

        // Act
        var generated = s_servedServices.SelectMany(s => s.Methods).Select(m => $"/{m.Service.FullName}/{m.Name}").Order().ToArray();

        // Assert
        Assert.Equal(contract, generated);
    }

    [Fact]
    public void GeneratedClients_EveryMethod_CallsContractPathWithContractType()
    {
        // Arrange
        var invoker = new RecordingCallInvoker();
        var protocol = new Ptp.PrivateTransferProtocol.PrivateTransferProtocolClient(invoker);
        var transport = new Ptp.PrivateTransferTransport.PrivateTransferTransportClient(invoker);
        var packets = new Proxy.DataTransferService.DataTransferServiceClient(invoker);
        Action[] calls =
        [
            () => protocol.invokeAsync(new Ptp.Inbound()),
            () => protocol.transport(),
            () => transport.pushAsync(new Ptp.PushInbound()),
            () => transport.popAsync(new Ptp.PopInbound()),
            () => transport.peekAsync(new Ptp.PeekInbound()),
            () => transport.releaseAsync(new Ptp.ReleaseInbound()),
            () => packets.push(),
            () => packets.unaryCallAsync(new Proxy.Packet()),
            () => packets.pull(new Proxy.Metadata()),
            () => packets.polling(),
        ];

        // Act
        foreach (var call in calls)
        {
            Assert.Throws<CallRecordedException>(call);
        }

        // Assert
        var expected = ContractMethods.Select(row => ((string)row[1], (MethodType)row[2])).ToArray();
        Assert.Equal(expected, invoker.Calls);
    }

    private static (string Service, string Method) Split(string path)
    {
        var slash = path.LastIndexOf('/');
        return (path[1..slash], path[(slash + 1)..]);
    }

    private static MethodType TypeOf(MethodDescriptor method) => (method.IsClientStreaming, method.IsServerStreaming) switch
    {
        (false, false) => MethodType.Unary,
        (true, false) => MethodType.ClientStreaming,
        (false, true) => MethodType.ServerStreaming,
        (true, true) => MethodType.DuplexStreaming,
    };
}
