using System.Net;

namespace SiteX.Server.Forwarding;

/// <summary>
/// Counts the calls that use a handler, from the request until its response is finished (its body stream or the
/// response disposed), so a retired handler is disposed only when no call needs its connections any more.
/// </summary>
internal sealed class LeaseHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private int _active;

    public int Active => Volatile.Read(ref _active);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var lease = new Lease(this);
        try
        {
            var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            response.Content = new LeasedContent(response.Content, lease);
            return response;
        }
        catch
        {
            lease.Release();
            throw;
        }
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var lease = new Lease(this);
        try
        {
            var response = base.Send(request, cancellationToken);
            response.Content = new LeasedContent(response.Content, lease);
            return response;
        }
        catch
        {
            lease.Release();
            throw;
        }
    }

    private sealed class Lease
    {
        private LeaseHandler? _owner;

        public Lease(LeaseHandler owner)
        {
            _owner = owner;
            Interlocked.Increment(ref owner._active);
        }

        public void Release()
        {
            if (Interlocked.Exchange(ref _owner, null) is { } owner)
            {
                Interlocked.Decrement(ref owner._active);
            }
        }
    }

    /// <summary>The response content as the handler gave it, releasing the lease when it or its stream is disposed.</summary>
    private sealed class LeasedContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly Lease _lease;

        public LeasedContent(HttpContent inner, Lease lease)
        {
            _inner = inner;
            _lease = lease;
            foreach (var header in inner.Headers)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => _inner.CopyToAsync(stream, context);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            _inner.CopyToAsync(stream, context, cancellationToken);

        protected override async Task<Stream> CreateContentReadStreamAsync() =>
            new LeasedStream(await _inner.ReadAsStreamAsync().ConfigureAwait(false), _lease);

        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
            new LeasedStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), _lease);

        protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => new LeasedStream(_inner.ReadAsStream(cancellationToken), _lease);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false; // Content-Length, when the response had one, was copied with the headers.
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
                _lease.Release();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>A response body stream that releases the lease when disposed (<see cref="Stream.DisposeAsync"/> ends in
    /// <see cref="Dispose(bool)"/> too).</summary>
    private sealed class LeasedStream(Stream inner, Lease lease) : SiteX.Server.Internal.DelegatingStream(inner)
    {
        public override Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken) => Inner.CopyToAsync(destination, bufferSize, cancellationToken);

        protected override void Dispose(bool disposing)
        {
            base.Dispose(disposing);
            if (disposing)
            {
                lease.Release();
            }
        }
    }
}
