namespace SiteX.Server.Queues.Storage;

/// <summary>The type byte of a record in a queue segment. Persisted: values are frozen by a golden test and never
/// reused.</summary>
internal enum QueueRecordType : byte
{
    /// <summary>A message: u64 sequence, i64 unix ms, session, topic, optional message id, then the payload.</summary>
    Append = 1,
    /// <summary>A message was delivered: u64 sequence of the appended message.</summary>
    Consume = 2,
    /// <summary>A session (topic absent) or one topic of it was released: session, optional topic. Drops every
    /// earlier append of it.</summary>
    Release = 3,
    /// <summary>The first record of every segment after the first: u64 next sequence, so sequence numbers keep
    /// growing even when every segment that held an append has been reclaimed.</summary>
    Checkpoint = 4,
}
