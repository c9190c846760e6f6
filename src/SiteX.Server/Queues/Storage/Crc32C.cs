using System.Buffers.Binary;
using System.Numerics;

namespace SiteX.Server.Queues.Storage;

/// <summary>CRC-32C (Castagnoli, as in iSCSI, ext4 and Kafka) on the CPU's crc32 instruction
/// (<see cref="BitOperations.Crc32C(uint, ulong)"/> uses SSE4.2 or the Arm CRC extension, with a software
/// fallback). Incremental: start from <see cref="Initial"/>, <see cref="Update(uint, ReadOnlySpan{byte})"/>, then <see cref="Finish"/>.</summary>
internal static class Crc32C
{
    public const uint Initial = 0xFFFF_FFFF;

    public static uint Update(uint state, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (var b in data)
        {
            state = BitOperations.Crc32C(state, b);
        }

        return state;
    }

    public static uint Update(uint state, byte value) => BitOperations.Crc32C(state, value);

    public static uint Finish(uint state) => ~state;

    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Update(Initial, data));
}
