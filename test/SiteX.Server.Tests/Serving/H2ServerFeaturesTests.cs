using Microsoft.AspNetCore.Http.Features;
using SiteX.Server.Serving;

namespace SiteX.Server.Tests.Serving;

/// <summary>The feature collection of a request on SiteX's own HTTP/2 server behaves as a <see cref="FeatureCollection"/>
/// over the connection's features with the stream's own features set in it.</summary>
public sealed class H2ServerFeaturesTests
{
    private sealed class Stream;

    private sealed class Wrapper : IHttpResponseBodyFeature
    {
        public System.IO.Stream Stream => throw new NotSupportedException();

        public System.IO.Pipelines.PipeWriter Writer => throw new NotSupportedException();

        public Task CompleteAsync() => Task.CompletedTask;

        public void DisableBuffering()
        {
        }

        public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
    }

    private readonly Stream _stream = new();
    private readonly FeatureCollection _connection = new();

    [Fact]
    public void TheStreamServesItsOwnFeatures_AndTheConnectionTheRest()
    {
        var tls = new object();
        _connection[typeof(ITlsConnectionFeature)] = tls;
        var features = new H2ServerFeatures(_stream, _connection);

        Assert.Same(_stream, features[typeof(IHttpRequestFeature)]);
        Assert.Same(_stream, features[typeof(IHttpResponseBodyFeature)]);
        Assert.Same(_stream, features[typeof(IHttpMaxRequestBodySizeFeature)]);
        Assert.Same(tls, features[typeof(ITlsConnectionFeature)]);
        Assert.Null(features[typeof(IHttpUpgradeFeature)]);
    }

    [Fact]
    public void WhatMiddlewareSets_ReplacesTheStreamsFeature_ChangesTheRevision_AndNullHidesIt()
    {
        var features = new H2ServerFeatures(_stream, _connection);
        var before = features.Revision;
        var wrapper = new Wrapper();

        features.Set<IHttpResponseBodyFeature>(wrapper);
        var replaced = features.Get<IHttpResponseBodyFeature>();
        var afterSet = features.Revision;
        features.Set<IHttpResponseBodyFeature>(null);

        Assert.Same(wrapper, replaced);
        Assert.NotEqual(before, afterSet);
        Assert.NotEqual(afterSet, features.Revision);
        Assert.Null(features.Get<IHttpResponseBodyFeature>());
    }

    [Fact]
    public void RemovingAConnectionFeatureSetOnTheRequest_ShowsTheConnectionsAgain()
    {
        var connectionOwned = new object();
        _connection[typeof(ITlsConnectionFeature)] = connectionOwned;
        var features = new H2ServerFeatures(_stream, _connection);

        features[typeof(ITlsConnectionFeature)] = new object();
        features[typeof(ITlsConnectionFeature)] = null;

        Assert.Same(connectionOwned, features[typeof(ITlsConnectionFeature)]);
        Assert.Contains(features, p => p.Key == typeof(ITlsConnectionFeature) && ReferenceEquals(p.Value, connectionOwned));
    }

    [Fact]
    public void TheConnectionsRevision_CountsToo()
    {
        var features = new H2ServerFeatures(_stream, _connection);
        var before = features.Revision;

        _connection[typeof(ITlsConnectionFeature)] = new object();

        Assert.NotEqual(before, features.Revision);
    }

    [Fact]
    public void Enumeration_ListsEachFeatureOnce_TheOverrideFirst_AndNoHiddenOne()
    {
        var connectionOwned = new object();
        _connection[typeof(ITlsConnectionFeature)] = connectionOwned;
        _connection[typeof(IHttpRequestFeature)] = new object(); // shadowed by the stream's
        var features = new H2ServerFeatures(_stream, _connection);
        var wrapper = new Wrapper();
        features.Set<IHttpResponseBodyFeature>(wrapper);
        features.Set<IHttpResetFeature>(null);

        var listed = features.ToList();

        Assert.Equal(listed.Count, listed.Select(p => p.Key).Distinct().Count());
        Assert.Equal((typeof(IHttpResponseBodyFeature), (object)wrapper), (listed[0].Key, listed[0].Value));
        Assert.DoesNotContain(listed, p => p.Key == typeof(IHttpResetFeature));
        Assert.Contains(listed, p => p.Key == typeof(IHttpRequestFeature) && ReferenceEquals(p.Value, _stream));
        Assert.Contains(listed, p => p.Key == typeof(ITlsConnectionFeature) && ReferenceEquals(p.Value, connectionOwned));
        Assert.Equal(10, listed.Count); // 8 of the stream's ten shown, the override, the connection's TLS feature
    }
}
