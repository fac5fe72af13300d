# The admin dashboard (issue 10): active routing (Task.priority, Campaign.Routing.ACTIVE) and
# repeated pairs for self-consistency (Campaign.repeat_share, Task.repeat_of, Task.State.REPEAT).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0004_generation_rounds'),
    ]

    operations = [
        migrations.AddField(
            model_name='campaign',
            name='repeat_share',
            field=models.FloatField(default=0.0),
        ),
        migrations.AddField(
            model_name='task',
            name='priority',
            field=models.FloatField(default=0.0),
        ),
        migrations.AddField(
            model_name='task',
            name='repeat_of',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='repeats', to='annotation.task'),
        ),
        migrations.AlterField(
            model_name='campaign',
            name='routing',
            field=models.CharField(choices=[('fewest_judgments', 'Fewest judgments first'), ('active', 'Most informative comparisons first (active)')], default='fewest_judgments', max_length=30),
        ),
        migrations.AlterField(
            model_name='task',
            name='state',
            field=models.CharField(choices=[('open', 'Open'), ('complete', 'Complete'), ('cancelled', 'Cancelled'), ('repeat', 'Repeat for one annotator')], default='open', max_length=10),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(models.F('campaign'), models.OrderBy(models.F('priority'), descending=True), models.F('id'), condition=models.Q(('priority__gt', 0), ('state', 'open')), name='task_open_by_priority'),
        ),
        migrations.AddConstraint(
            model_name='campaign',
            constraint=models.CheckConstraint(condition=models.Q(('repeat_share__gte', 0), ('repeat_share__lte', 0.5)), name='campaign_repeat_share_range'),
        ),
    ]
