using SiteX.Cli;

return await SiteXCommandLine.Build(Console.Out, Console.Error).Parse(args).InvokeAsync();
