using Sealpost.Messages;

var builder = WebApplication.CreateBuilder(args);
builder.AddMessagesService();
var app = builder.Build();
app.MapMessagesService();
app.Run();

/// <summary>The messages service's entry point; public so that in-process host tests can start it.</summary>
public partial class Program;
