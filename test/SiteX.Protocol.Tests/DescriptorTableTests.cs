using Google.Protobuf.Reflection;
using Core = SiteX.Protocol.Eggroll.Core;
using Proxy = SiteX.Protocol.Eggroll.Proxy;
using Ptp = SiteX.Protocol.Ptp;
using Transfer = SiteX.Protocol.Eggroll.Transfer;

namespace SiteX.Protocol.Tests;

/// <summary>Checks the generated descriptors against the field tables of wire-contract.md sections 2.2 and 2.3.</summary>
public class DescriptorTableTests
{
    private const string ProxyPackage = "com.webank.ai.eggroll.api.networking.proxy.";

    /// <summary>Message full name → fields as <c>number:name:type</c>, in field-number order.</summary>
    private static readonly Dictionary<string, string[]> s_contract = new()
    {
        ["org.ppc.ptp.Message"] = ["1:msgId:string", "2:head:bytes", "3:body:bytes"],
        ["org.ppc.ptp.TopicInfo"] = ["1:topic:string", "2:ip:string", "3:port:int32", "4:createTimestamp:int64", "5:status:int32"],
        ["org.ppc.ptp.Inbound"] = ["1:metadata:map<string,string>", "2:payload:bytes"],
        ["org.ppc.ptp.Outbound"] = ["1:metadata:map<string,string>", "2:payload:bytes", "3:code:string", "4:message:string"],
        ["org.ppc.ptp.PeekInbound"] = ["1:topic:string"],
        ["org.ppc.ptp.PopInbound"] = ["1:topic:string", "2:timeout:int32"],
        ["org.ppc.ptp.PushInbound"] = ["1:topic:string", "2:payload:bytes", "3:metadata:map<string,string>"],
        ["org.ppc.ptp.ReleaseInbound"] = ["1:topic:string", "2:timeout:int32"],
        ["org.ppc.ptp.TransportOutbound"] = ["1:metadata:map<string,string>", "2:payload:bytes", "3:code:string", "4:message:string"],
        [ProxyPackage + "Model"] = ["1:name:string", "2:dataKey:string"],
        [ProxyPackage + "Task"] = ["1:taskId:string", $"2:model:{ProxyPackage}Model"],
        [ProxyPackage + "Topic"] = ["1:name:string", "2:partyId:string", "3:role:string", "4:callback:com.webank.ai.eggroll.api.core.Endpoint"],
        [ProxyPackage + "Command"] = ["1:name:string"],
        [ProxyPackage + "Conf"] = ["1:overallTimeout:int64", "2:completionWaitTimeout:int64", "3:packetIntervalTimeout:int64", "4:maxRetries:int32"],
        [ProxyPackage + "Metadata"] =
        [
            $"1:task:{ProxyPackage}Task", $"2:src:{ProxyPackage}Topic", $"3:dst:{ProxyPackage}Topic", $"4:command:{ProxyPackage}Command",
            "5:operator:string", "6:seq:int64", "7:ack:int64", $"8:conf:{ProxyPackage}Conf", "9:ext:bytes", "100:version:string",
        ],
        [ProxyPackage + "Data"] = ["1:key:string", "2:value:bytes"],
        [ProxyPackage + "Packet"] = [$"1:header:{ProxyPackage}Metadata", $"2:body:{ProxyPackage}Data"],
        [ProxyPackage + "HeartbeatResponse"] = [$"1:header:{ProxyPackage}Metadata", $"2:operation:{ProxyPackage}Operation"],
        [ProxyPackage + "PollingFrame"] =
        [
            "1:method:string", "2:seq:int64", $"10:metadata:{ProxyPackage}Metadata", $"20:packet:{ProxyPackage}Packet", "30:desc:string",
        ],
        ["com.webank.ai.eggroll.api.core.Endpoint"] = ["1:ip:string", "2:port:int32", "3:hostname:string"],
        ["com.webank.eggroll.core.transfer.RollSiteHeader"] =
        [
            "1:rollSiteSessionId:string", "2:name:string", "3:tag:string", "4:srcRole:string", "5:srcPartyId:string",
            "6:dstRole:string", "7:dstPartyId:string", "8:dataType:string", "10:options:map<string,string>",
            "15:totalPartitions:int32", "16:partitionId:int32", "17:totalStreams:int64", "18:totalBatches:int64",
            "20:streamSeq:int64", "21:batchSeq:int64", "30:stage:string",
        ],
        ["com.webank.eggroll.core.transfer.TransferHeader"] =
            ["1:id:int32", "2:tag:string", "3:totalSize:int64", "4:status:string", "5:ext:bytes"],
        ["com.webank.eggroll.core.transfer.TransferBatch"] =
            ["1:header:com.webank.eggroll.core.transfer.TransferHeader", "2:batchSize:int64", "3:data:bytes"],
    };

    private static readonly FileDescriptor[] s_files =
    [
        Ptp.OsxReflection.Descriptor,
        Proxy.ProxyReflection.Descriptor,
        Core.BasicMetaReflection.Descriptor,
        Transfer.TransferReflection.Descriptor,
    ];

    public static TheoryData<string> ContractMessages => [.. s_contract.Keys];

    [Theory]
    [MemberData(nameof(ContractMessages))]
    public void Fields_ContractMessage_MatchContractTable(string fullName)
    {
        // Arrange
        var descriptor = FindMessage(fullName);

        // Act
        var fields = descriptor.Fields.InFieldNumberOrder().Select(Describe).ToArray();

        // Assert
        Assert.Equal(s_contract[fullName], fields);
    }

    [Fact]
    public void Package_EveryWireFile_IsProto3WithContractPackage()
    {
        // Arrange
        string[] expected =
        [
            "org.ppc.ptp",
            "com.webank.ai.eggroll.api.networking.proxy",
            "com.webank.ai.eggroll.api.core",
            "com.webank.eggroll.core.transfer",
        ];

        // Act
        var packages = s_files.Select(f => f.Package).ToArray();

        // Assert
        Assert.Equal(expected, packages);
        Assert.All(s_files, f => Assert.Equal("proto3", f.ToProto().Syntax));
    }

    [Fact]
    public void Values_Enums_MatchContract()
    {
        // Arrange
        var expected = new Dictionary<string, string>
        {
            ["org.ppc.ptp.Header"] =
                "Version=0,TechProviderCode=1,TraceID=4,Token=5,SourceNodeID=6,TargetNodeID=7,SourceInstID=8,TargetInstID=9,SessionID=10",
            ["org.ppc.ptp.Metadata"] =
                "MessageTopic=0,MessageCode=1,SourceComponentName=2,TargetComponentName=3,TargetMethod=4,SourceMethod=5,"
                + "MessageOffSet=6,InstanceId=7,Timestamp=8,MessageFlag=9,MessageTopicBack=10,RetryCount=11,Timeout=12,JobId=13",
            [ProxyPackage + "Operation"] = "START=0,RUN=1,STOP=2,KILL=3,GET_DATA=4,PUT_DATA=5",
        };

        foreach (var (fullName, values) in expected)
        {
            // Act
            var descriptor = FindType<EnumDescriptor>(fullName);
            var actual = string.Join(",", descriptor.Values.Select(v => $"{v.Name}={v.Number}"));

            // Assert
            Assert.Equal(values, actual);
        }
    }

    private static MessageDescriptor FindMessage(string fullName) => FindType<MessageDescriptor>(fullName);

    private static T FindType<T>(string fullName)
        where T : class, IDescriptor
    {
        var package = fullName[..fullName.LastIndexOf('.')];
        var file = s_files.Single(f => f.Package == package);
        return file.FindTypeByName<T>(fullName[(package.Length + 1)..])
            ?? throw new InvalidOperationException($"{fullName} is not in {file.Name}.");
    }

    private static string Describe(FieldDescriptor field)
    {
        var type = field switch
        {
            { IsMap: true } => $"map<{ScalarOrTypeName(field.MessageType.Fields[1])},{ScalarOrTypeName(field.MessageType.Fields[2])}>",
            { IsRepeated: true } => "repeated " + ScalarOrTypeName(field),
            _ => ScalarOrTypeName(field),
        };
        return $"{field.FieldNumber}:{field.Name}:{type}";
    }

    private static string ScalarOrTypeName(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Message => field.MessageType.FullName,
        FieldType.Enum => field.EnumType.FullName,
        _ => field.FieldType.ToString().ToLowerInvariant(),
    };
}
