# Perl Mail::AuthenticationResults over a corpus. usage: authres_pl.pl accept|time FILE
use strict;
use warnings;
use Mail::AuthenticationResults::Parser;
use Time::HiRes qw(time);

my ($mode, $path) = @ARGV;
open(my $fh, '<:encoding(UTF-8)', $path) or die "$path: $!";
my @lines = map { chomp; $_ } <$fh>;
if ($mode eq 'accept') {
    for my $line (@lines) {
        my $ok = eval { Mail::AuthenticationResults::Parser->new()->parse($line); 1 };
        print $ok ? "1\n" : "0\n";
    }
} else {
    my $start = time();
    for my $line (@lines) {
        Mail::AuthenticationResults::Parser->new()->parse($line);
    }
    my $elapsed = time() - $start;
    printf("%.0f\n", scalar(@lines) / $elapsed);
}
