namespace SiteX.Server.Forwarding.H2;

/// <summary>
/// The rule both HTTP/2 sides (the relay's <see cref="H2FrameWriter"/>, the server's <c>H2ServerOutput</c>) apply to a
/// call's own few frames flushed from outside a read loop: under <see cref="Below"/> bytes, the flush is left to one
/// thread-pool work item, so that what other calls write until it runs goes in the same socket write; more (a body
/// moving) is flushed at once. Used under the owner's lock; a field of the owner, never copied.
/// </summary>
internal struct FlushDeferral
{
    /// <summary>Unflushed bytes below which a flush waits for others to join it.</summary>
    public const int Below = 4 * 1024;

    private bool _queued;

    /// <summary>True when flushing <paramref name="unflushed"/> bytes is left to <paramref name="owner"/>'s work item
    /// (queued now, or already queued); false when the caller flushes now.</summary>
    public bool TryDefer(long unflushed, IThreadPoolWorkItem owner)
    {
        if (unflushed >= Below)
        {
            return false; // grown past the mark while a deferred flush waited: written now, the work item finds nothing
        }

        if (!_queued)
        {
            _queued = true;
            ThreadPool.UnsafeQueueUserWorkItem(owner, preferLocal: false);
        }

        return true;
    }

    /// <summary>The work item runs (under the owner's lock, before it flushes): a later small flush queues a new one.</summary>
    public void Ran() => _queued = false;
}
