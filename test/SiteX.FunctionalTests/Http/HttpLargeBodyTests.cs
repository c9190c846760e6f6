using System.Net;
using System.Security.Cryptography;
using SiteX.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace SiteX.FunctionalTests.Http;

/// <summary>Tests that move a gibibyte each; they run alone, after the parallel tests, so that their time and memory
/// bounds measure them and not their neighbours.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LargeTransferCollection
{
    public const string Name = "Large transfers";
}

/// <summary>
/// 1 GiB up and 1 GiB down through gateways A and B to a REST service at site B, generated on the fly and verified
/// byte for byte at the far side, with the process's managed heap staying far below the body size.
/// </summary>
[Collection(LargeTransferCollection.Name)]
public sealed class HttpLargeBodyTests(ITestOutputHelper output)
{
    private const long OneGiB = 1024L * 1024 * 1024;

    /// <summary>Generous for a busy 2-core machine: a quiet one moves 1 GiB through both gateways in seconds.</summary>
    private static readonly TimeSpan s_transferTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Far below the 1 GiB body: a gateway (or client, or service) that held the body, or copied it into new
    /// buffers as it passed, would go over.</summary>
    private const long HeapLimitBytes = 256L * 1024 * 1024;

    [Fact]
    public async Task Upload1GiB_ChunkedThroughAToB_ArrivesWhole_WithBoundedMemory()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        using var http = HttpSites.Client(s_transferTimeout);
        using var request = sites.Request(HttpMethod.Post, "/api/upload");
        var content = new BulkContent(OneGiB, declareLength: false);
        request.Content = content;

        RestEcho echo;
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using (var heap = HeapPeak.Start())
        {
            using var response = await http.SendAsync(request).DefaultTimeout(s_transferTimeout);
            echo = await RestJson.ReadEchoAsync(response);
            output.WriteLine($"1 GiB upload through A and B: {started.Elapsed.TotalSeconds:0.0} s, {OneGiB / 1e6 / started.Elapsed.TotalSeconds:0} MB/s; managed heap {heap.Describe()}");
            Assert.True(heap.GrowthBytes < HeapLimitBytes && heap.AllocatedBytes < OneGiB / 2, $"managed heap while 1 GiB passed through: {heap.Describe()}");
        }

        Assert.Equal(OneGiB, echo.BodyBytes);
        Assert.Equal(content.Sha256, echo.BodySha256);
        Assert.Equal("chunked", echo.Headers["transfer-encoding"]);
        cluster.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Download1GiB_WithContentLengthThroughBToA_ArrivesWhole_WithBoundedMemory()
    {
        await using var cluster = new TestCluster(output);
        var sites = await HttpSites.StartAsync(cluster);
        using var http = HttpSites.Client(s_transferTimeout);
        using var request = sites.Request(HttpMethod.Get, $"/files/download?bytes={OneGiB}&chunked=false");

        long received;
        string sha256;
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using (var heap = HeapPeak.Start())
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(OneGiB, response.Content.Headers.ContentLength);
            await using var body = await response.Content.ReadAsStreamAsync().DefaultTimeout();
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using var hashing = new HashingReadStream(body, hash);
            received = await BulkData.VerifyAsync(hashing, CancellationToken.None).DefaultTimeout(s_transferTimeout);
            sha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
            output.WriteLine($"1 GiB download through B and A: {started.Elapsed.TotalSeconds:0.0} s, {OneGiB / 1e6 / started.Elapsed.TotalSeconds:0} MB/s; managed heap {heap.Describe()}");
            Assert.True(heap.GrowthBytes < HeapLimitBytes && heap.AllocatedBytes < OneGiB / 2, $"managed heap while 1 GiB passed through: {heap.Describe()}");
        }

        Assert.Equal(OneGiB, received);
        Assert.Equal(BulkData.Sha256(OneGiB), sha256);
        cluster.AssertNoUnexpectedErrors();
    }

    /// <summary>Adds everything read to a hash.</summary>
    private sealed class HashingReadStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            hash.AppendData(buffer.Span[..read]);
            return read;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
