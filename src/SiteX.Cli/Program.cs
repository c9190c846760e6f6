using SiteX.Cli;

return await SiteXCommandLine.InvokeAsync(args, Console.Out, Console.Error);
