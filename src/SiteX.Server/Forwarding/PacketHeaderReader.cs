using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using SiteX.Protocol.Eggroll.Proxy;
using SiteX.Protocol.Eggroll.Transfer;

namespace SiteX.Server.Forwarding;

/// <summary>
/// Reads only the <c>header</c> (field 1) of the first <c>Packet</c> of a DataTransferService call, without
/// consuming anything: the forwarder then streams the untouched request, first message included. Memory is bounded
/// by the header, not by the message (a Packet's body follows its header on the wire).
/// </summary>
internal static class PacketHeaderReader
{
    public readonly record struct Result(GatewayError Error, string? Message, Metadata? Header);

    public static async ValueTask<Result> PeekAsync(PipeReader reader, int maxHeaderBytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await reader.ReadAsync(cancellationToken);
            var buffer = read.Buffer;
            var outcome = TryParse(buffer, maxHeaderBytes, out var header, out var error);
            if (outcome == ParseOutcome.NeedMore && !read.IsCompleted && !read.IsCanceled)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            reader.AdvanceTo(buffer.Start);
            return outcome switch
            {
                ParseOutcome.Done => new Result(GatewayError.None, null, header),
                ParseOutcome.NeedMore => new Result(GatewayError.BadRequest, buffer.Length == 0 ? "the call has no Packet" : "the first Packet ends before its header", null),
                ParseOutcome.TooLarge => new Result(GatewayError.TooLarge, error, null),
                _ => new Result(GatewayError.BadRequest, error, null),
            };
        }
    }

    internal enum ParseOutcome { Done, NeedMore, Invalid, TooLarge }

    internal static ParseOutcome TryParse(ReadOnlySequence<byte> buffer, int maxHeaderBytes, out Metadata? header, out string? error)
    {
        header = null;
        error = null;
        if (buffer.Length < 5)
        {
            return ParseOutcome.NeedMore;
        }

        Span<byte> prefix = stackalloc byte[5];
        buffer.Slice(0, 5).CopyTo(prefix);
        if (prefix[0] != 0)
        {
            error = "the first Packet is compressed; a gateway must read its header, so send it uncompressed";
            return ParseOutcome.Invalid;
        }

        var messageLength = BinaryPrimitives.ReadUInt32BigEndian(prefix[1..]);
        var reader = new SequenceReader<byte>(buffer.Slice(5));
        long consumed = 0;
        while (consumed < messageLength)
        {
            if (!TryReadVarint(ref reader, out var tag, ref consumed))
            {
                return NeedMoreOrTooLarge(reader, maxHeaderBytes, ref error);
            }

            var field = (int)(tag >> 3);
            var wireType = (int)(tag & 7);
            if (field == 0)
            {
                error = "the first Packet is not a valid protobuf message (field number 0)";
                return ParseOutcome.Invalid;
            }

            switch (wireType)
            {
                case 0:
                    if (!TryReadVarint(ref reader, out _, ref consumed))
                    {
                        return NeedMoreOrTooLarge(reader, maxHeaderBytes, ref error);
                    }

                    break;
                case 1:
                case 5:
                    var fixedSize = wireType == 1 ? 8 : 4;
                    if (reader.Remaining < fixedSize)
                    {
                        return NeedMoreOrTooLarge(reader, maxHeaderBytes, ref error);
                    }

                    reader.Advance(fixedSize);
                    consumed += fixedSize;
                    break;
                case 2:
                    if (!TryReadVarint(ref reader, out var length, ref consumed))
                    {
                        return NeedMoreOrTooLarge(reader, maxHeaderBytes, ref error);
                    }

                    if (field == 1)
                    {
                        if (length > (ulong)maxHeaderBytes)
                        {
                            error = $"the Packet header is {length} bytes, over the {maxHeaderBytes}-byte limit";
                            return ParseOutcome.TooLarge;
                        }

                        if (reader.Remaining < (long)length)
                        {
                            return ParseOutcome.NeedMore;
                        }

                        try
                        {
                            header = Metadata.Parser.ParseFrom(reader.UnreadSequence.Slice(0, (long)length));
                            return ParseOutcome.Done;
                        }
                        catch (Google.Protobuf.InvalidProtocolBufferException)
                        {
                            error = "the Packet header is not a valid Metadata message";
                            return ParseOutcome.Invalid;
                        }
                    }

                    if (length > (ulong)maxHeaderBytes || reader.Consumed + (long)length > maxHeaderBytes)
                    {
                        error = "the Packet body comes before its header and is too large to hold; send the header (field 1) first";
                        return ParseOutcome.TooLarge;
                    }

                    if (reader.Remaining < (long)length)
                    {
                        return ParseOutcome.NeedMore;
                    }

                    reader.Advance((long)length);
                    consumed += (long)length;
                    break;
                default:
                    error = $"the first Packet is not a valid protobuf message (wire type {wireType})";
                    return ParseOutcome.Invalid;
            }
        }

        header = new Metadata(); // a Packet without a header: no destination, reported by the caller
        return ParseOutcome.Done;
    }

    private static ParseOutcome NeedMoreOrTooLarge(SequenceReader<byte> reader, int maxHeaderBytes, ref string? error)
    {
        if (reader.Consumed > maxHeaderBytes)
        {
            error = "no Packet header within the size limit";
            return ParseOutcome.TooLarge;
        }

        return ParseOutcome.NeedMore;
    }

    private static bool TryReadVarint(ref SequenceReader<byte> reader, out ulong value, ref long consumed)
    {
        value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (!reader.TryRead(out var b))
            {
                return false;
            }

            consumed++;
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The destination of a Packet as OSX reads it: <c>RollSiteHeader.dstPartyId</c> from <c>header.ext</c> when
    /// set, else <c>header.dst.partyId</c>; the role from <c>RollSiteHeader.dstRole</c> (push) or <c>dst.role</c>.
    /// </summary>
    public static bool TryGetDestination(Metadata header, bool isPush, out string? party, out string? role, out string? sourceParty, out string? error)
    {
        var ok = TryRead(header, isPush, out var route, out error);
        (party, role, sourceParty) = (route.Party, route.Role, route.SourceParty);
        return ok;
    }

    /// <summary>
    /// Everything the planes need from a Packet header, with its <c>RollSiteHeader</c> parsed once: the destination
    /// (as <see cref="TryGetDestination"/>), the source party and role, and each source party it claims. False, with
    /// <paramref name="error"/>, when <c>header.ext</c> is not a <c>RollSiteHeader</c>.
    /// </summary>
    public static bool TryRead(Metadata header, bool isPush, out PacketRoute route, out string? error)
    {
        var party = header.Dst?.PartyId;
        var role = header.Dst?.Role;
        var sourceParty = header.Src?.PartyId;
        var sourceRole = header.Src?.Role;
        string? rollSiteSource = null;
        error = null;
        if (!header.Ext.IsEmpty)
        {
            RollSiteHeader rollSite;
            try
            {
                rollSite = RollSiteHeader.Parser.ParseFrom(header.Ext);
            }
            catch (Google.Protobuf.InvalidProtocolBufferException)
            {
                error = "invalid rollSiteHeader in Packet.header.ext";
                route = default;
                return false;
            }

            if (!string.IsNullOrEmpty(rollSite.DstPartyId))
            {
                party = rollSite.DstPartyId;
            }

            if (isPush && !string.IsNullOrEmpty(rollSite.DstRole))
            {
                role = rollSite.DstRole;
            }

            rollSiteSource = string.IsNullOrEmpty(rollSite.SrcPartyId) ? null : rollSite.SrcPartyId;
            if (string.IsNullOrEmpty(sourceParty))
            {
                sourceParty = rollSiteSource;
            }

            if (string.IsNullOrEmpty(sourceRole) && !string.IsNullOrEmpty(rollSite.SrcRole))
            {
                sourceRole = rollSite.SrcRole;
            }
        }

        route = new PacketRoute(party, role, string.IsNullOrEmpty(sourceParty) ? null : sourceParty, string.IsNullOrEmpty(sourceRole) ? null : sourceRole,
            string.IsNullOrEmpty(header.Src?.PartyId) ? null : header.Src.PartyId, rollSiteSource);
        return true;
    }
}

/// <summary>What a Packet header says about its call (<see cref="PacketHeaderReader.TryRead"/>).</summary>
/// <param name="Party">The destination party.</param>
/// <param name="Role">The destination role.</param>
/// <param name="SourceParty">The source party (<c>src.partyId</c>, else the RollSiteHeader's).</param>
/// <param name="SourceRole">The sending role (<c>src.role</c>, else the RollSiteHeader's <c>srcRole</c>), for permission rules.</param>
/// <param name="HeaderSource"><c>header.src.partyId</c>, when set.</param>
/// <param name="RollSiteSource">The RollSiteHeader's <c>srcPartyId</c>, when set.</param>
internal readonly record struct PacketRoute(string? Party, string? Role, string? SourceParty, string? SourceRole, string? HeaderSource, string? RollSiteSource)
{
    /// <summary>Every source party the header claims, with the field that claims it (each is checked against a peer's
    /// proven party).</summary>
    public IEnumerable<(string Party, string Field)> ClaimedSources()
    {
        if (HeaderSource is not null)
        {
            yield return (HeaderSource, "the Packet's header.src.partyId");
        }

        if (RollSiteSource is not null)
        {
            yield return (RollSiteSource, "the Packet's RollSiteHeader srcPartyId");
        }
    }
}
