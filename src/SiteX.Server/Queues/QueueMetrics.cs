using System.Diagnostics.Metrics;

namespace SiteX.Server.Queues;

/// <summary>Queue instruments (meter <c>SiteX</c>): push/pop rates and bytes, parked pops, depth and bytes held.</summary>
internal sealed class QueueMetrics
{
    private readonly Counter<long> _pushed;
    private readonly Counter<long> _pushedBytes;
    private readonly Counter<long> _popped;
    private readonly Counter<long> _poppedBytes;
    private readonly UpDownCounter<long> _parked;
    private readonly Meter _meter;
    private bool _observing;

    public QueueMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(Diagnostics.GatewayMetrics.MeterName);
        _pushed = _meter.CreateCounter<long>("sitex.queue.pushed", "{message}", "Messages stored in this gateway's queues.");
        _pushedBytes = _meter.CreateCounter<long>("sitex.queue.pushed.size", "By", "Payload bytes stored.");
        _popped = _meter.CreateCounter<long>("sitex.queue.popped", "{message}", "Messages delivered by pops (consumed).");
        _poppedBytes = _meter.CreateCounter<long>("sitex.queue.popped.size", "By", "Payload bytes delivered.");
        _parked = _meter.CreateUpDownCounter<long>("sitex.queue.parked_pops", "{pop}", "Pops waiting for a message.");
    }

    public void Observe(QueueManager manager)
    {
        if (_observing)
        {
            return;
        }

        _observing = true;
        _meter.CreateObservableGauge("sitex.queue.depth", () => manager.Snapshot().Sum(s => (long)s.Depth), "{message}", "Messages waiting in all queues.");
        _meter.CreateObservableGauge("sitex.queue.bytes", () => manager.Snapshot().Sum(s => s.Bytes), "By", "Bytes of unconsumed messages.");
        _meter.CreateObservableGauge("sitex.queue.sessions", () => (long)manager.Snapshot().Count, "{session}", "Sessions with queues.");
    }

    public void Pushed(int bytes)
    {
        _pushed.Add(1);
        _pushedBytes.Add(bytes);
    }

    public void Popped(int bytes)
    {
        _popped.Add(1);
        _poppedBytes.Add(bytes);
    }

    public void PopParked(int delta) => _parked.Add(delta);
}
