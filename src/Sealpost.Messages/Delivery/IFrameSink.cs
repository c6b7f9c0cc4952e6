namespace Sealpost.Messages.Delivery;

/// <summary>Where the frames for one socket go: its single writer (<c>Sockets/FrameWriter</c>), or a test's recorder.</summary>
internal interface IFrameSink
{
    /// <summary>Queues a frame; false when the socket cannot take it (it is being dropped).</summary>
    bool Emit(byte[] frame);

    /// <summary>Closes the socket after what is queued, with a WebSocket close code (<c>Protocol.CloseCodes</c>) and a reason.</summary>
    void Close(int code, string reason);
}
