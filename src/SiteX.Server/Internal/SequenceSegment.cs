using System.Buffers;

namespace SiteX.Server.Internal;

/// <summary>A link of a <see cref="ReadOnlySequence{T}"/> built over memory that is already there (no copy).</summary>
internal sealed class SequenceSegment : ReadOnlySequenceSegment<byte>
{
    public SequenceSegment(ReadOnlyMemory<byte> memory, long runningIndex = 0)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    /// <summary>Links <paramref name="memory"/> after this segment and returns its segment.</summary>
    public SequenceSegment Append(ReadOnlyMemory<byte> memory)
    {
        var next = new SequenceSegment(memory, RunningIndex + Memory.Length);
        Next = next;
        return next;
    }

    /// <summary>The sequence from <paramref name="first"/> to the end of <paramref name="last"/>.</summary>
    public static ReadOnlySequence<byte> Sequence(SequenceSegment first, SequenceSegment last) => new(first, 0, last, last.Memory.Length);
}
