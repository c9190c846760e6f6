namespace SiteX.Server.Tests.Performance;

/// <summary>
/// Bytes each hot path may allocate per operation, checked by <see cref="HotPathAllocationTests"/> and
/// <see cref="QueueStoreAllocationTests"/> on the inputs of the micro-benchmarks (eng/shared/HotPathInputs.cs); the
/// benchmarks' numbers are in docs/benchmarks.md.
/// </summary>
/// <remarks>
/// <para>Constants rather than a data file: each budget sits next to the reason for its number, raising one is a
/// reviewed one-line change with its reason in the same diff, and a test names its budget at compile time (no
/// file to copy next to the tests, no key to mistype).</para>
/// <para>Zero where the path must not allocate at all. Where it must, the budget is the count measured when it was set,
/// which is exact: the same input allocates the same objects, on any machine and under any load. A new dependency
/// version (Google.Protobuf, the runtime) may move a count by a few bytes; then measure again and update the number
/// here and its row in docs/benchmarks.md.</para>
/// </remarks>
internal static class AllocationBudgets
{
    /// <summary><c>RouteTable.TryLookup</c>, hit, <c>default</c> party or miss: target O3 says lookup is
    /// allocation-free (frozen dictionaries keyed by the header strings the call already has).</summary>
    public const long RouteLookup = 0;

    /// <summary><c>RouteGroup.Pick</c>: an array read and, with more than one endpoint, an interlocked increment.</summary>
    public const long RoutePick = 0;

    /// <summary><c>CallHeaders.Describe</c>, <c>TargetParty</c>, <c>TargetService</c>: header values are used as the
    /// strings the server already parsed.</summary>
    public const long CallHeaders = 0;

    /// <summary><c>GrpcDeadline.TryParse</c> of the <c>grpc-timeout</c> header: span parsing only.</summary>
    public const long GrpcDeadline = 0;

    /// <summary><c>HpackDecoder.Decode</c> of a gRPC response header block, Huffman-coded literals inserted into the
    /// dynamic table and then indexed (HpackDecoderAllocationTests): fields are handed on as spans of the block, the
    /// table's byte storage and the decoder's scratch buffer, all allocated before the warm-up ends.</summary>
    public const long HpackDecode = 0;

    /// <summary><c>H2StringCache.Get</c> of the header names and values a caller sends on every call (H2StringCacheTests):
    /// SiteX's server decodes them once per connection, not once per request.</summary>
    public const long RepeatedHeaderStrings = 0;

    /// <summary><c>GatewayIdentity.CheckLoop</c> of a call without loop headers: the next hop's via list is this
    /// gateway's own entry, built once.</summary>
    public const long CheckLoopFirstHop = 0;

    /// <summary><c>GatewayIdentity.CheckLoop</c> of a relayed call: the next hop's via list, one string of 28 characters
    /// here (<c>10000#0e1f2a3b,9999#a1b2c3d4</c>): 80 bytes.</summary>
    public const long CheckLoopRelayed = 80;

    /// <summary><c>PacketHeaderReader.PeekAsync</c>: the parsed <c>Metadata</c> (its Task, two Topics, Command, Conf,
    /// strings and the <c>ext</c> bytes) and nothing else, whatever the size of the body behind it (the 1 KiB and the
    /// 1 MiB Packet allocate the same).</summary>
    public const long PacketHeaderPeek = 960;

    /// <summary><c>PacketHeaderReader.TryGetDestination</c> of a push: the <c>RollSiteHeader</c> parsed from
    /// <c>ext</c>, with its strings and its (empty) options map.</summary>
    public const long PacketDestination = 896;

    /// <summary><c>PacketHeaderReader.TryRead</c> and its <c>ClaimedSources</c>, what the planes read from a peer
    /// gateway's Packet: the one <c>RollSiteHeader</c> parse of <see cref="PacketDestination"/> (896 B) and the claims'
    /// enumerator. 1848 B while the destination, the claims and the source role each parsed <c>ext</c> again.</summary>
    public const long PacketRouteInterSite = 1032;

    /// <summary><c>SegmentedLogStore.AppendAsync</c> of 1 KiB, counted in the whole process: the record buffer that holds
    /// the payload (and serves as its cache), the <c>StoredMessage</c>, the pending operation with its completion source
    /// and task, and the state machines of <c>AppendAsync</c> and of the test's async call awaiting it (as any caller
    /// has). 1992 B until the store's internal enqueue stopped being an async method of its own.</summary>
    public const long QueueAppend = 1864;

    /// <summary><c>SegmentedLogStore.ReadPayloadAsync</c> of a payload still in memory: the cached bytes themselves.</summary>
    public const long QueueReadCached = 0;

    /// <summary><c>SegmentedLogStore.ReadPayloadAsync</c> of 1 KiB from its segment file: the payload array (1024 bytes
    /// and a 24-byte array header) and nothing else.</summary>
    public const long QueueReadFromDisk = 1048;

    /// <summary><c>PushView.TryRead</c> of a push with a 23-character topic and a 10-character <c>msgId</c>: those two
    /// strings (72 and 48 bytes) and nothing else, whatever the size of the payload (parsing the <c>PushInbound</c> copies the payload,
    /// 1 MiB for a 1 MiB message).</summary>
    public const long PushViewRead = 120;

    /// <summary>Managed memory a 10 000-party route table keeps once built from JSON: 14.2 MiB when set (target O3: &lt; 50 MiB);
    /// the budget leaves an eighth for a runtime or dependency update to move it.</summary>
    public const long RouteTable10000Parties = 16L * 1024 * 1024;
}
